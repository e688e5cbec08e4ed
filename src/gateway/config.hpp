// `pgpulse serve` settings: one plain struct. Flags, the TOML file (--config) and defaults map
// onto it; a flag wins over the file.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "gateway/auth.hpp"

namespace pgpulse::gateway {

struct GatewayConfig {
  std::string db;                              ///< PostgreSQL URL (required)
  std::string listen = "127.0.0.1:8080";       ///< host:port; loopback unless auth is on
  std::size_t threads = 0;                     ///< event loops; 0: one per core
  std::size_t max_clients = 20000;             ///< more connections get 503
  std::size_t max_subscriptions = 64;          ///< per WebSocket connection
  std::size_t max_message_bytes = 64 * 1024;   ///< larger client frames: close 1009
  std::size_t send_queue_bytes = 4u << 20;     ///< per client; overflow: close 4000
  std::chrono::seconds heartbeat{15};          ///< server heartbeat to every client
  std::chrono::seconds idle_timeout{60};       ///< no frame (pongs included): close
  std::chrono::seconds handshake_timeout{10};  ///< HTTP request / upgrade must be done by then
  std::size_t ring_events = 100000;            ///< recent events kept for resume
  AuthConfig auth;                             ///< JWT verification (off when empty)
  bool allow_anonymous = false;                ///< serve a non-loopback address without auth
  std::string tls_cert;                        ///< PEM certificate chain: enables TLS
  std::string tls_key;                         ///< PEM private key
  bool demo = false;                           ///< demo pages and their write endpoint
  std::string web_root = PGPULSE_WEB_ROOT;     ///< the demo pages (web/ of the source tree)
  std::string log_level = "info";
};

}  // namespace pgpulse::gateway
