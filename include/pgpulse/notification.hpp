// pgpulse/notification.hpp: one NOTIFY as received by a Listener.
#pragma once

#include <string_view>

namespace pgpulse {

/// A notification, passed by reference to a handler. The views point into libpq's buffer and
/// are valid only during the call: copy what you keep. (Copying every payload would cost
/// more than everything else a listener does per notification.)
struct Notification {
  std::string_view channel;
  std::string_view payload;
  int backend_pid = 0;  ///< the notifying server process
};

}  // namespace pgpulse
