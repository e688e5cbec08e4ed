// What integration tests need around the real PostgreSQL that scripts/pg-sandbox.sh starts:
// its URL, blocking connections, unique names, a server restart, running the CLI, and
// driving an io_context until something happened.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.hpp"

namespace pgpulse::test {

using namespace std::chrono_literals;

/// The sandbox server's URL (PGPULSE_TEST_DB); aborts the test run when it is not set.
const std::string& database_url();

/// database_url() with another database and, when given, another user (the sandbox trusts
/// every local user).
std::string url_for(const std::string& database, const std::string& user = {});

/// A fresh blocking connection to the sandbox server.
pg::Connection connect();

/// A name unique in this run, from the current test's name: tables and channels of one
/// test never meet another's.
std::string unique_name(const std::string& prefix = "t");

/// `name` as a quoted SQL identifier (pgpulse::quote_identifier).
std::string ident(const std::string& name);

/// Runs `sql` on a new connection (a statement, or several separated by ';').
void run_sql(const std::string& sql);

/// Restarts the server with `pg_ctl restart -m immediate` (a crash, as far as clients see).
void restart_server();

/// What is left of the time until `deadline` (zero or less once it passed).
std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline);

/// Runs `io` until `done()` or the timeout; returns done().
bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = 10s);

/// Output of a finished command.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

/// Runs the pgpulse CLI with `args` to completion (killed after `timeout`).
CommandResult run_cli(const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = 30s);

/// A running pgpulse CLI whose stdout lines are read as they come.
class CliProcess {
 public:
  explicit CliProcess(const std::vector<std::string>& args);
  ~CliProcess();
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;

  /// The next stdout line, or nullopt when none came within `timeout` or stdout closed.
  std::optional<std::string> read_line(std::chrono::milliseconds timeout = 10s);
  void signal(int signo);
  /// Waits for exit; returns the exit code (128 + signal when killed).
  int wait(std::chrono::milliseconds timeout = 10s);
  /// Everything the process wrote to stderr so far (after wait(): all of it).
  std::string stderr_text();

 private:
  int pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_buffer_;
  std::string err_buffer_;
  std::optional<int> exit_code_;
  bool err_open_ = true;
};

}  // namespace pgpulse::test
