// `pgpulse serve`: flags and the TOML file (--config) fill one GatewayConfig; a flag wins.
#include <fmt/core.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <sstream>

#include "cli/commands.hpp"
#include "gateway/server.hpp"
#include "pgpulse/error.hpp"

namespace pgpulse::cli {

namespace {

std::string read_file(const std::string& path, const char* what) {
  std::ifstream in(path);
  if (!in) throw Error(std::string("cannot read ") + what + " " + path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A TOML value as the text a flag would carry.
std::string flag_text(const toml::node& node) {
  // value_exact: value<bool>() would also take an integer (max_clients = 20000 read as true).
  if (auto s = node.value_exact<std::string>()) return *s;
  if (auto b = node.value_exact<bool>()) return *b ? "true" : "false";
  if (auto i = node.value_exact<std::int64_t>()) return std::to_string(*i);
  throw Error("config values must be strings, integers or booleans");
}

// What SIGHUP reloads: the TLS certificate and key and the token settings.
constexpr const char* kReloadableFlags[] = {
    "--jwt-secret",         "--jwt-public-key", "--jwt-issuer", "--jwt-audience",
    "--jwt-leeway-seconds", "--tls-cert",       "--tls-key"};

// The configuration as at start, with the reloadable settings read again: the config file (a
// flag given on the command line still wins) and the public key file.
gateway::GatewayConfig reread(const ServeOptions& started) {
  ServeOptions fresh;
  CLI::App app;
  std::string ignored_db;
  app.add_option("--db", ignored_db);
  add_serve_options(app, fresh);
  fresh.config_file = started.config_file;
  apply_config_file(app, fresh);
  auto given = [&](const char* flag) { return started.flags_given.contains(flag); };
  auto config = started.config;
  auto& auth = config.auth;
  if (!given("--jwt-secret")) auth.hs256_secret = fresh.config.auth.hs256_secret;
  if (!given("--jwt-issuer")) auth.issuer = fresh.config.auth.issuer;
  if (!given("--jwt-audience")) auth.audience = fresh.config.auth.audience;
  if (!given("--jwt-leeway-seconds")) {
    auth.leeway = std::chrono::seconds(fresh.leeway_seconds);
  }
  if (!given("--tls-cert")) config.tls_cert = fresh.config.tls_cert;
  if (!given("--tls-key")) config.tls_key = fresh.config.tls_key;
  auto key_file = given("--jwt-public-key") ? started.public_key_file : fresh.public_key_file;
  auth.public_key_pem = key_file.empty() ? "" : read_file(key_file, "public key");
  return config;
}

}  // namespace

void add_serve_options(CLI::App& serve, ServeOptions& options) {
  auto& c = options.config;
  serve.add_option("--config", options.config_file, "TOML file with any of these settings");
  serve.add_option("--listen", c.listen, "host:port to listen on (default 127.0.0.1:8080)");
  serve.add_option("--threads", c.threads, "event loops (default: one per core)");
  serve.add_option("--max-clients", c.max_clients, "connections beyond this get 503");
  serve.add_option("--max-subscriptions", c.max_subscriptions, "per WebSocket connection");
  serve.add_option("--max-message-bytes", c.max_message_bytes, "largest client message");
  serve.add_option("--send-queue-bytes", c.send_queue_bytes,
                   "per-client send queue; a client over it is disconnected (close 4000)");
  serve.add_option("--ring-events", c.ring_events, "recent events kept in memory for resume");
  serve.add_option("--jwt-secret", c.auth.hs256_secret, "HS256 secret for client tokens");
  serve.add_option("--jwt-public-key", options.public_key_file,
                   "PEM public key (RS256 or ES256) for client tokens");
  serve.add_option("--jwt-issuer", c.auth.issuer, "required iss claim");
  serve.add_option("--jwt-audience", c.auth.audience, "required aud claim");
  serve.add_option("--jwt-leeway-seconds", options.leeway_seconds,
                   "clock skew allowed on exp and nbf (default 30)");
  serve.add_flag("--allow-anonymous", c.allow_anonymous,
                 "serve a non-loopback address without authentication");
  serve.add_option("--tls-cert", c.tls_cert, "PEM certificate chain: serve TLS");
  serve.add_option("--tls-key", c.tls_key, "PEM private key for --tls-cert");
  serve.add_flag("--demo", c.demo,
                 "serve the demo pages (chat, live table) and their write API on messages");
  serve.add_option("--web-root", c.web_root, "directory of the demo pages");
  serve.add_option("--heartbeat-seconds", options.heartbeat_seconds, "heartbeat interval");
  serve.add_option("--idle-timeout-seconds", options.idle_timeout_seconds,
                   "close a WebSocket silent this long (pings included)");
}

void apply_config_file(CLI::App& serve, ServeOptions& options) {
  for (const char* flag : kReloadableFlags) {
    if (serve.get_option(flag)->count() > 0) options.flags_given.insert(flag);
  }
  if (options.config_file.empty()) return;
  toml::table table;
  try {
    table = toml::parse_file(options.config_file);
  } catch (const toml::parse_error& e) {
    throw Error("config " + options.config_file + ": " + std::string(e.description()));
  }
  for (auto&& [key, node] : table) {
    std::string flag = "--" + std::string(key.str());
    std::replace(flag.begin(), flag.end(), '_', '-');
    CLI::Option* option = nullptr;
    try {
      option = serve.get_option(flag);
    } catch (const CLI::OptionNotFound&) {
    }
    if (!option || flag == "--config") {
      throw Error("config " + options.config_file + ": unknown setting \"" +
                  std::string(key.str()) + "\"");
    }
    if (option->count() > 0) continue;  // the command line wins
    try {
      option->add_result(flag_text(node));
      option->run_callback();
    } catch (const CLI::Error& e) {
      throw Error("config " + options.config_file + ": " + std::string(key.str()) + ": " +
                  e.what());
    }
  }
}

int serve(ServeOptions& options) {
  auto& c = options.config;
  c.db = options.db;
  c.heartbeat = std::chrono::seconds(options.heartbeat_seconds);
  c.idle_timeout = std::chrono::seconds(options.idle_timeout_seconds);
  c.auth.leeway = std::chrono::seconds(options.leeway_seconds);
  if (!options.public_key_file.empty()) {
    c.auth.public_key_pem = read_file(options.public_key_file, "public key");
  }
  gateway::serve(c, [started = options] { return reread(started); });
  return 0;
}

}  // namespace pgpulse::cli
