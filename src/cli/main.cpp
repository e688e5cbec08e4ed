// pgpulse: the command-line entry point. User errors become one line on stderr and a
// non-zero exit code; nothing here prints a stack trace.
#include <signal.h>

#include <fmt/core.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <optional>

#include "cli/commands.hpp"
#include "pgpulse/error.hpp"

namespace {

constexpr int kUsageError = 2;
constexpr int kRuntimeError = 1;
constexpr int kCursorExpired = 3;  // distinct, so a script can decide to start over

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_st("pgpulse");
  logger->set_pattern("pgpulse: %l: %v");
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace

int main(int argc, char** argv) {
  // A reader that goes away (pgpulse watch | head) shows up as EPIPE, handled where we write.
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"pgpulse: PostgreSQL row changes as real-time events"};
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may also follow the subcommand
  app.set_version_flag("--version", "pgpulse 0.1.0");
  std::string log_level = "warning";
  app.add_option("--log-level", log_level, "trace, debug, info, warning, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warning", "error", "critical", "off"}));

  std::string db;
  if (const char* env = std::getenv("PGPULSE_DB")) db = env;
  auto add_db = [&](CLI::App* cmd) {
    auto* opt = cmd->add_option("--db", db, "PostgreSQL URL or conninfo (env PGPULSE_DB)");
    if (db.empty()) opt->required();
  };

  std::vector<std::string> tables;
  pgpulse::CaptureSettings settings;
  auto* install = app.add_subcommand("install", "put change capture on tables");
  add_db(install);
  install->add_option("tables", tables, "tables, as in SQL: orders, app.orders, '\"My Table\"'");
  install->add_option("--retention", settings.retention,
                      "keep changes this long (an interval; default 24 hours)");
  std::optional<std::string> wakeup;
  install->add_option("--wakeup", wakeup,
                      "notify (default): NOTIFY wakes readers; poll: no NOTIFY, readers poll");

  auto* uninstall =
      app.add_subcommand("uninstall", "remove capture (from all tables when none given)");
  add_db(uninstall);
  uninstall->add_option("tables", tables, "tables to stop capturing");

  auto* status = app.add_subcommand("status", "show what is captured");
  add_db(status);

  pgpulse::cli::WatchOptions watch_options;
  auto* watch = app.add_subcommand("watch", "print changes as JSON lines");
  add_db(watch);
  std::vector<std::string> watch_tables;
  watch->add_option("--table", watch_tables,
                    "only this table (repeatable), as in SQL; without a schema: public");
  watch->add_option("--channel", watch_options.channels,
                    "raw mode: print NOTIFYs of this channel instead (repeatable)");
  watch->add_option("--from", watch_options.from,
                    "start after this event id, or now (default) or beginning");
  watch->add_option("--limit", watch_options.limit, "exit after this many lines");
  watch->add_option("--state", watch_options.state_file,
                    "save the cursor in this file as it goes, and resume from it");
  watch->add_option("--poll-interval", watch_options.poll_interval_ms,
                    "read the log this often in ms (default: 1000 with NOTIFY, 50 with poll)");

  pgpulse::cli::ServeOptions serve_options;
  auto* serve = app.add_subcommand("serve", "WebSocket and SSE gateway for browsers and apps");
  add_db(serve);
  serve->get_option("--db")->required(false);  // may come from the config file instead
  pgpulse::cli::add_serve_options(*serve, serve_options);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "pgpulse: {} (see pgpulse --help)\n", e.what());
    return kUsageError;
  }
  // Option values with a type of their own, parsed once here: a bad one is a usage error.
  const char* parsing = "--wakeup";
  try {
    if (wakeup) settings.wakeup = pgpulse::parse_wakeup_mode(*wakeup);
    parsing = "--table";
    for (const auto& table : watch_tables) {
      watch_options.tables.push_back(pgpulse::TableName::parse(table));
    }
  } catch (const pgpulse::Error& e) {
    fmt::print(stderr, "pgpulse: {}: {} (see pgpulse --help)\n", parsing, e.what());
    return kUsageError;
  }
  // The gateway logs what happens (connections, reconnects) unless told otherwise.
  if (*serve && app.get_option("--log-level")->count() == 0) log_level = "info";
  setup_logging(log_level);

  try {
    if (*install) {
      if (tables.empty() && !settings.retention && !settings.wakeup) {
        fmt::print(stderr, "pgpulse: install needs tables, --retention or --wakeup\n");
        return kUsageError;
      }
      return pgpulse::cli::install(db, tables, settings);
    }
    if (*uninstall) return pgpulse::cli::uninstall(db, tables);
    if (*status) return pgpulse::cli::status(db);
    if (*serve) {
      pgpulse::cli::apply_config_file(*serve, serve_options);
      serve_options.db = db;
      if (db.empty()) {
        fmt::print(stderr, "pgpulse: serve needs --db (or db in the config file)\n");
        return kUsageError;
      }
      return pgpulse::cli::serve(serve_options);
    }
    watch_options.db = db;
    if (!watch_options.channels.empty() &&
        (!watch_options.tables.empty() || watch_options.from != "now" ||
         !watch_options.state_file.empty())) {
      fmt::print(stderr, "pgpulse: --channel cannot be combined with --table, --from or --state\n");
      return kUsageError;
    }
    return pgpulse::cli::watch(watch_options);
  } catch (const pgpulse::CursorExpired& e) {
    fmt::print(stderr, "pgpulse: {}\n", e.what());
    return kCursorExpired;
  } catch (const pgpulse::Error& e) {
    fmt::print(stderr, "pgpulse: {}\n", e.what());
  } catch (const std::exception& e) {
    fmt::print(stderr, "pgpulse: internal error: {}\n", e.what());
  }
  return kRuntimeError;
}
