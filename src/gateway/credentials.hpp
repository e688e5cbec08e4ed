// What the gateway proves itself and checks clients with: the TLS context (certificate and
// key) and the token verifier. Built at start and again on SIGHUP; the server swaps the whole
// set atomically, so a new connection sees either the old or the new one, never a mix.
// Connections keep what they were accepted with (an OpenSSL session holds a reference to its
// SSL_CTX; a session's grant was taken at admission).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "gateway/auth.hpp"
#include "gateway/config.hpp"

namespace pgpulse::gateway {

struct Credentials {
  std::shared_ptr<boost::asio::ssl::context> tls;  ///< null: plain TCP
  std::shared_ptr<const TokenVerifier> verifier;   ///< null: authentication is off
};

/// Reads the TLS certificate and key files of `config` and builds its token verifier. Throws
/// pgpulse::Error naming the file or setting that is unusable.
[[nodiscard]] std::shared_ptr<const Credentials> load_credentials(const GatewayConfig& config);

}  // namespace pgpulse::gateway
