// pgpulse/connection_options.hpp: how a listening connection connects, notices that it is
// dead, and reconnects; and how it reports its state.
#pragma once

#include <chrono>
#include <string>

namespace pgpulse {

using std::chrono::milliseconds;

/// Settings of the one dedicated connection a Listener or ChangeStream owns.
struct ConnectOptions {
  /// libpq connection string: a postgresql:// URL or "key=value ..." pairs.
  std::string conninfo{};
  /// Give up on one connection attempt after this long.
  milliseconds connect_timeout{5000};
  /// First delay before reconnecting; doubled per failed attempt, with +-25% jitter.
  milliseconds backoff_initial{100};
  /// The delay never grows beyond this.
  milliseconds backoff_max{5000};
  /// After this long without traffic the connection is probed with a query: a server that
  /// vanished without closing the socket (power loss, network cut) is noticed in at most
  /// probe_interval + probe_timeout, instead of never.
  milliseconds probe_interval{10000};
  milliseconds probe_timeout{5000};
  /// TCP keepalive idle seconds (libpq `keepalives_idle`), unless the conninfo sets its own.
  int keepalive_idle_seconds = 10;
  /// When false, a failure of the very first connection attempt is final (state kFailed):
  /// right for command-line tools, where a typo in the URL should fail at once.
  bool retry_first_connect = true;
};

enum class ConnectionState {
  kConnecting,    ///< (re)connecting
  kConnected,     ///< listening
  kDisconnected,  ///< lost; a reconnect is scheduled
  kFailed,        ///< gave up (see ConnectOptions::retry_first_connect); no more events
  kStopped,       ///< stop() was called
};

/// Reported through a state handler on every transition.
struct StateChange {
  ConnectionState state;
  /// Why: the server's or libpq's message for kDisconnected and kFailed.
  std::string reason;
  /// True on kConnected after a reconnect of a raw Listener: notifications sent while it
  /// was away are lost (that is what NOTIFY does). A ChangeStream never has gaps: it
  /// catches up from its cursor.
  bool gap = false;
};

/// "connected", "disconnected", ... for logs.
[[nodiscard]] const char* to_string(ConnectionState state) noexcept;

}  // namespace pgpulse
