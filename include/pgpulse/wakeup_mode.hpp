// pgpulse/wakeup_mode.hpp: how capture tells readers that changes are waiting.
#pragma once

#include <string_view>

namespace pgpulse {

enum class WakeupMode {
  /// Each captured transaction wakes readers with one NOTIFY: they react at once.
  kNotify,
  /// No NOTIFY, so writers skip the cluster-wide lock NOTIFY takes at commit; readers poll the
  /// log (every 50 ms by default), for at most that much more latency.
  kPoll,
};

/// "notify" or "poll", as `pgpulse install --wakeup` and pgpulse.settings spell it.
[[nodiscard]] const char* to_string(WakeupMode mode) noexcept;
/// Parses "notify" or "poll". Throws pgpulse::Error naming the bad text.
[[nodiscard]] WakeupMode parse_wakeup_mode(std::string_view text);

}  // namespace pgpulse
