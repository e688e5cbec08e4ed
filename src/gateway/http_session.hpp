// One accepted connection until it becomes a client session: reads a request, answers what the
// gateway answers itself (health, metrics, the demo), admits a client (max_clients, its token)
// and hands the stream to the WebSocket or SSE session.
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "gateway/client_session.hpp"
#include "gateway/credentials.hpp"
#include "gateway/demo_api.hpp"
#include "gateway/transports.hpp"

namespace pgpulse::gateway {

/// What HTTP sessions share. Owned by the server.
struct HttpFront {
  const GatewayConfig& config;
  ServerContext& context;
  DemoApi* demo;  ///< demo mode only
  /// Swapped whole on SIGHUP; each request reads it once.
  std::atomic<std::shared_ptr<const Credentials>> credentials;
};

/// Serves `stream` (accepted, TLS handshake done) on `loop`. Instantiated for PlainStream and
/// TlsStream.
template <class Stream>
void run_http(HttpFront& front, std::size_t loop, Stream stream);

}  // namespace pgpulse::gateway
