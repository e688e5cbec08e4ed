// `pgpulse serve`: the gateway. Owns the event loops (one per core), the live change stream
// feeding the hub, the acceptor and the shared server context.
#pragma once

#include <functional>

#include "gateway/config.hpp"

namespace pgpulse::gateway {

/// Reads the configuration again, for SIGHUP (throws pgpulse::Error when it is unusable).
using ConfigReader = std::function<GatewayConfig()>;

/// Runs the gateway until SIGINT or SIGTERM; then closes every client (WebSocket: close frame
/// 1001) and returns within a second. Throws pgpulse::Error for a configuration it refuses.
///
/// On SIGHUP it calls `reread` (when given) and re-reads the TLS certificate and key files and
/// the token keys of what it returns, swapping them for new connections; connected clients
/// keep theirs. A reload that fails logs one line and keeps the credentials in use.
void serve(const GatewayConfig& config, ConfigReader reread = {});

}  // namespace pgpulse::gateway
