#include "gateway/demo_api.hpp"

#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "pg/connection.hpp"
#include "pgpulse/capture.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::gateway {

namespace json = boost::json;

struct DemoApi::Connection {
  std::optional<pg::Connection> db;
};

namespace {

ApiResponse error(int status, const std::string& message) {
  return {status, json::serialize(json::object{{"error", message}})};
}

ApiResponse id_response(int status, std::string_view id) {
  return {status, "{\"id\":" + std::string(id) + "}"};
}

// "/api/messages/42" -> "42"; empty for "/api/messages"; nullopt for anything else.
std::optional<std::string> message_id(const std::string& path) {
  const std::string base = "/api/messages";
  if (path == base) return std::string();
  if (!path.starts_with(base + "/")) return std::nullopt;
  auto id = path.substr(base.size() + 1);
  if (id.empty() || id.size() > 18 || id.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return id;
}

}  // namespace

DemoApi::DemoApi(std::string conninfo)
    : conninfo_(std::move(conninfo)), connection_(std::make_unique<Connection>()) {}

DemoApi::~DemoApi() {
  worker_.join();
}

void DemoApi::prepare() {
  pg::Connection db(conninfo_);
  db.exec(
      "CREATE TABLE IF NOT EXISTS public.messages (id serial PRIMARY KEY, room int NOT NULL, "
      "author text NOT NULL, body text NOT NULL, sent_at timestamptz NOT NULL DEFAULT now())");
  install_capture(conninfo_, {"public.messages"});
}

void DemoApi::handle(std::string method, std::string path, std::string body,
                     std::function<void(ApiResponse)> done) {
  boost::asio::post(
      worker_, [this, method = std::move(method), path = std::move(path), body = std::move(body),
                done = std::move(done)] { done(run(method, path, body)); });
}

ApiResponse DemoApi::run(const std::string& method, const std::string& path,
                         const std::string& body) {
  auto id = message_id(path);
  if (!id) return error(404, "no such endpoint");
  json::object fields;
  if (method != "DELETE") {
    boost::system::error_code ec;
    auto value = json::parse(body, ec);
    if (ec || !value.is_object()) return error(400, "the body must be a JSON object");
    fields = value.as_object();
  }
  auto text = [&](const char* key) -> std::optional<std::string> {
    auto* v = fields.if_contains(key);
    if (!v || !v->is_string() || v->as_string().empty() || v->as_string().size() > 2000) {
      return std::nullopt;
    }
    return std::string(v->as_string());
  };
  try {
    auto& db = connection_->db;
    if (!db) db.emplace(conninfo_);
    if (method == "POST" && id->empty()) {
      auto* room = fields.if_contains("room");
      auto author = text("author");
      auto message = text("body");
      if (!room || !room->is_int64() || !author || !message) {
        return error(400, "POST needs room (integer), author and body (non-empty strings)");
      }
      auto r = db->exec(
          "INSERT INTO public.messages (room, author, body) VALUES ($1, $2, $3) RETURNING id",
          {std::to_string(room->as_int64()), *author, *message});
      return id_response(201, r.get(0, 0));
    }
    if (method == "PATCH" && !id->empty()) {
      auto message = text("body");
      if (!message) return error(400, "PATCH needs body (a non-empty string)");
      auto r = db->exec("UPDATE public.messages SET body = $2 WHERE id = $1 RETURNING id",
                        {*id, *message});
      return r.rows() ? id_response(200, r.get(0, 0)) : error(404, "no message " + *id);
    }
    if (method == "DELETE" && !id->empty()) {
      auto r = db->exec("DELETE FROM public.messages WHERE id = $1 RETURNING id", {*id});
      return r.rows() ? id_response(200, r.get(0, 0)) : error(404, "no message " + *id);
    }
    return error(405, method + " is not supported on " + path);
  } catch (const ConnectionError& e) {
    connection_->db.reset();  // reconnect next time
    return error(503, e.what());
  } catch (const Error& e) {
    return error(400, e.what());
  }
}

}  // namespace pgpulse::gateway
