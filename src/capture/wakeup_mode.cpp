#include "pgpulse/wakeup_mode.hpp"

#include <string>

#include "pgpulse/error.hpp"

namespace pgpulse {

const char* to_string(WakeupMode mode) noexcept {
  switch (mode) {
    case WakeupMode::kNotify:
      return "notify";
    case WakeupMode::kPoll:
      return "poll";
  }
  return "unknown";
}

WakeupMode parse_wakeup_mode(std::string_view text) {
  if (text == "notify") return WakeupMode::kNotify;
  if (text == "poll") return WakeupMode::kPoll;
  throw Error("wake-up mode must be notify or poll, not '" + std::string(text) + "'");
}

}  // namespace pgpulse
