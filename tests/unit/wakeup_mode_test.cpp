#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pgpulse/error.hpp"
#include "pgpulse/wakeup_mode.hpp"

namespace pgpulse {
namespace {

TEST(WakeupMode, ParsesWhatToStringWrites) {
  for (auto mode : {WakeupMode::kNotify, WakeupMode::kPoll}) {
    EXPECT_EQ(parse_wakeup_mode(to_string(mode)), mode);
  }
  EXPECT_STREQ(to_string(WakeupMode::kNotify), "notify");
  EXPECT_STREQ(to_string(WakeupMode::kPoll), "poll");
}

TEST(WakeupMode, AnythingElseIsAnErrorNamingTheText) {
  for (const char* bad : {"", "Notify", "POLL", "notify ", "sometimes"}) {
    try {
      (void)parse_wakeup_mode(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()),
                "wake-up mode must be notify or poll, not '" + std::string(bad) + "'");
    }
  }
}

}  // namespace
}  // namespace pgpulse
