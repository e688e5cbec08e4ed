#include "test_database.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "pgpulse/table_name.hpp"

extern char** environ;

namespace pgpulse::test {

const std::string& database_url() {
  static const std::string url = [] {
    const char* env = std::getenv("PGPULSE_TEST_DB");
    if (!env || !*env) {
      std::fprintf(stderr, "PGPULSE_TEST_DB is not set: run through scripts/pg-sandbox.sh run\n");
      std::abort();
    }
    return std::string(env);
  }();
  return url;
}

pg::Connection connect() {
  return pg::Connection(database_url());
}

std::string url_for(const std::string& database, const std::string& user) {
  const std::string& url = database_url();
  auto authority = url.find("://");
  auto path = authority == std::string::npos ? authority : url.find('/', authority + 3);
  if (path == std::string::npos) throw std::runtime_error("unexpected PGPULSE_TEST_DB: " + url);
  auto query = url.find('?', path);
  std::string host = url.substr(authority + 3, path - authority - 3);
  if (!user.empty()) host = user + "@" + host.substr(host.rfind('@') + 1);
  return url.substr(0, authority + 3) + host + "/" + database +
         (query == std::string::npos ? "" : url.substr(query));
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  std::string name = prefix;
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
    name += "_";
    name += info->name();
  }
  // Cut before the counter, so two names of one long-named test still differ.
  name = name.substr(0, 50) + "_" + std::to_string(++counter);
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

std::string ident(const std::string& name) {
  return quote_identifier(name);
}

std::chrono::milliseconds left_until(std::chrono::steady_clock::time_point deadline) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                               std::chrono::steady_clock::now());
}

void run_sql(const std::string& sql) {
  connect().exec_script(sql);
}

void restart_server() {
  const char* pgdata = std::getenv("PGPULSE_TEST_PGDATA");
  const char* pgbin = std::getenv("PGPULSE_TEST_PGBIN");
  const char* pglog = std::getenv("PGPULSE_TEST_PGLOG");
  ASSERT_TRUE(pgdata && pgbin && pglog);
  std::string command = std::string(pgbin) + "/pg_ctl -D '" + pgdata + "' -l '" + pglog +
                        "' -m immediate -w restart >/dev/null";
  if (geteuid() == 0) command = "cd /tmp && runuser -u postgres -- " + command;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(10ms);
  }
  return done();
}

namespace {

struct Pipe {
  int read = -1;
  int write = -1;
  Pipe() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    read = fds[0];
    write = fds[1];
  }
};

int spawn(const std::vector<std::string>& args, int out_fd, int err_fd) {
  std::vector<std::string> full{PGPULSE_CLI};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_fd, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_fd, STDERR_FILENO);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot start " + full[0]);
  return pid;
}

// Appends what is available on `fd` to `buffer`; returns false at end of file.
bool read_some(int fd, std::string& buffer) {
  char chunk[65536];
  auto n = ::read(fd, chunk, sizeof chunk);
  if (n <= 0) return false;
  buffer.append(chunk, static_cast<std::size_t>(n));
  return true;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run_cli(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  CliProcess process(args);
  CommandResult result;
  while (auto line = process.read_line(timeout)) result.out += *line + "\n";
  result.exit_code = process.wait(timeout);
  result.err = process.stderr_text();
  return result;
}

CliProcess::CliProcess(const std::vector<std::string>& args) {
  Pipe out;
  Pipe err;
  pid_ = spawn(args, out.write, err.write);
  ::close(out.write);
  ::close(err.write);
  out_fd_ = out.read;
  err_fd_ = err.read;
}

CliProcess::~CliProcess() {
  if (!exit_code_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ::close(out_fd_);
  ::close(err_fd_);
}

std::optional<std::string> CliProcess::read_line(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto at = out_buffer_.find('\n'); at != std::string::npos) {
      std::string line = out_buffer_.substr(0, at);
      out_buffer_.erase(0, at + 1);
      return line;
    }
    auto left = left_until(deadline);
    if (left.count() <= 0) return std::nullopt;
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_open_ ? err_fd_ : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    if (fds[1].revents && !read_some(err_fd_, err_buffer_)) err_open_ = false;
    if (fds[0].revents && !read_some(out_fd_, out_buffer_)) return std::nullopt;
  }
}

void CliProcess::signal(int signo) {
  ::kill(pid_, signo);
}

int CliProcess::wait(std::chrono::milliseconds timeout) {
  if (exit_code_) return *exit_code_;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      exit_code_ = -1;  // did not exit in time
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  exit_code_ = decode_status(status);
  while (err_open_ && read_some(err_fd_, err_buffer_)) {
  }
  err_open_ = false;
  return *exit_code_;
}

std::string CliProcess::stderr_text() {
  pollfd fd{err_fd_, POLLIN, 0};
  while (err_open_ && ::poll(&fd, 1, 0) > 0) err_open_ = read_some(err_fd_, err_buffer_);
  return err_buffer_;
}

}  // namespace pgpulse::test
