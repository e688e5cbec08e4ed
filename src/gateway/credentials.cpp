#include "gateway/credentials.hpp"

#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

namespace ssl = boost::asio::ssl;

std::shared_ptr<const Credentials> load_credentials(const GatewayConfig& config) {
  auto credentials = std::make_shared<Credentials>();
  if (config.auth.enabled()) credentials->verifier = std::make_shared<TokenVerifier>(config.auth);
  if (config.tls_cert.empty() && config.tls_key.empty()) return credentials;
  if (config.tls_cert.empty() || config.tls_key.empty()) {
    throw Error("TLS needs both --tls-cert and --tls-key");
  }
  auto tls = std::make_shared<ssl::context>(ssl::context::tls_server);
  tls->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  boost::system::error_code ec;
  tls->use_certificate_chain_file(config.tls_cert, ec);
  if (ec) throw Error("cannot use TLS certificate " + config.tls_cert + ": " + ec.message());
  tls->use_private_key_file(config.tls_key, ssl::context::pem, ec);
  if (ec) throw Error("cannot use TLS key " + config.tls_key + ": " + ec.message());
  credentials->tls = std::move(tls);
  return credentials;
}

}  // namespace pgpulse::gateway
