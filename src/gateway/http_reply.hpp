// HTTP replies the gateway answers itself (health, metrics, refusals, the demo's files).
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "gateway/metrics.hpp"
#include "gateway/transports.hpp"

namespace pgpulse::gateway {

using Response = boost::beast::http::response<boost::beast::http::string_body>;

/// The response to `request`: kept alive when the request asks for it and it is no error;
/// open to every origin except the demo's write API (whose CORS preflight is never granted).
[[nodiscard]] Response make_reply(const Request& request, boost::beast::http::status status,
                                  const char* content_type, std::string body);

/// The body of /healthz.
[[nodiscard]] std::string health_body(const Metrics& metrics);

/// The path of a request target, without its query.
[[nodiscard]] std::string path_of(std::string_view target);
/// The value of query parameter `key` in a request target; empty when absent.
[[nodiscard]] std::string query_value(std::string_view target, std::string_view key);

}  // namespace pgpulse::gateway
