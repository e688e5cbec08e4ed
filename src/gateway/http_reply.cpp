#include "gateway/http_reply.hpp"

#include <boost/url/parse.hpp>

namespace pgpulse::gateway {

namespace http = boost::beast::http;

Response make_reply(const Request& request, http::status status, const char* content_type,
                    std::string body) {
  Response response(status, request.version());
  response.set(http::field::server, "pgpulse");
  response.set(http::field::content_type, content_type);
  if (!path_of(request.target()).starts_with("/api/")) {
    response.set(http::field::access_control_allow_origin, "*");
  }
  response.keep_alive(request.keep_alive() && static_cast<int>(status) < 400);
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

std::string health_body(const Metrics& metrics) {
  bool up = metrics.db_connected.load();
  return std::string("{\"status\":\"") + (up ? "ok" : "degraded") +
         "\",\"database\":" + (up ? "\"connected\"" : "\"disconnected\"") +
         ",\"clients\":" + std::to_string(metrics.clients.load()) +
         ",\"subscriptions\":" + std::to_string(metrics.subscriptions.load()) +
         ",\"events_in\":" + std::to_string(metrics.events_in.load()) + "}\n";
}

std::string path_of(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

std::string query_value(std::string_view target, std::string_view key) {
  auto url = boost::urls::parse_origin_form(target);
  if (!url) return {};
  for (auto param : url->params()) {
    if (param.key == key) return param.value;
  }
  return {};
}

}  // namespace pgpulse::gateway
