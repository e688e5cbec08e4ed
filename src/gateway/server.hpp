// `pgpulse serve`: the gateway. Owns the event loops (one per core), the live change stream
// feeding the hub, the acceptor and the shared server context.
#pragma once

#include <memory>

#include "gateway/config.hpp"

namespace pgpulse::gateway {

/// Runs the gateway until SIGINT or SIGTERM; then closes every client (WebSocket: close frame
/// 1001) and returns within a second. Throws pgpulse::Error for a configuration it refuses.
void serve(const GatewayConfig& config);

}  // namespace pgpulse::gateway
