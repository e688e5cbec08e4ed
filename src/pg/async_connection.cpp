#include "pg/async_connection.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string_view>
#include <vector>

#include "pgpulse/error.hpp"

namespace pgpulse::pg {

AsyncConnection::AsyncConnection(asio::any_io_executor executor, NotificationSink sink)
    : sink_(std::move(sink)), socket_(executor), deadline_timer_(executor) {}

AsyncConnection::~AsyncConnection() {
  close();
}

void AsyncConnection::close() noexcept {
  // The descriptor belongs to libpq: release it from Asio (which also cancels waits) rather
  // than letting Asio close it under libpq.
  if (socket_.is_open()) socket_.release();
  conn_.reset();
}

void AsyncConnection::attach_socket() {
  if (socket_.is_open()) socket_.release();
  int fd = PQsocket(conn_.get());
  if (fd < 0) throw ConnectionError("connection has no socket");
  socket_.assign(fd);
}

void AsyncConnection::throw_broken(const char* what) {
  std::string message = conn_ ? first_line(PQerrorMessage(conn_.get())) : "connection closed";
  throw ConnectionError(std::string(what) + ": " + message);
}

asio::awaitable<AsyncConnection::Wake> AsyncConnection::wait_socket(Direction direction,
                                                                    Clock::time_point deadline,
                                                                    bool wakeable) {
  if (!conn_) throw ConnectionError("connection closed");
  if (wakeable && wake_pending_) {
    wake_pending_ = false;
    co_return Wake::kWoken;
  }
  timed_out_ = false;
  auto generation = ++wait_generation_;
  deadline_timer_.expires_at(deadline);
  // The timer ends the socket wait by cancelling it; the flag tells why it ended.
  deadline_timer_.async_wait([this, generation](boost::system::error_code ec) {
    if (!ec && generation == wait_generation_) {
      timed_out_ = true;
      socket_.cancel();
    }
  });
  boost::system::error_code ec;
  auto type = direction == Direction::kRead ? asio::posix::stream_descriptor::wait_read
                                            : asio::posix::stream_descriptor::wait_write;
  in_wakeable_wait_ = wakeable;
  co_await socket_.async_wait(type, asio::redirect_error(asio::use_awaitable, ec));
  in_wakeable_wait_ = false;
  ++wait_generation_;
  deadline_timer_.cancel();
  if (!conn_) throw ConnectionError("connection closed");  // close() while we waited
  if (!ec) co_return Wake::kInput;
  if (timed_out_) co_return Wake::kTimeout;
  if (wakeable && wake_pending_) {
    wake_pending_ = false;
    co_return Wake::kWoken;
  }
  throw ConnectionError("socket wait failed: " + ec.message());
}

void AsyncConnection::wake() noexcept {
  wake_pending_ = true;
  // Only a wait_input() may end early. Any other wait (connect, a query's send or result)
  // runs on, and the wake-up ends the next wait_input() at once instead: cancelling such a
  // wait would fail the query and with it the connection.
  if (in_wakeable_wait_ && socket_.is_open()) socket_.cancel();
}

asio::awaitable<void> AsyncConnection::connect(const ConnParams& params, Clock::duration timeout) {
  close();
  prepared_.clear();  // prepared statements belong to the server session
  conn_.reset(PQconnectStartParams(params.keywords(), params.values(), 0));
  if (!conn_) throw ConnectionError("out of memory");
  if (PQstatus(conn_.get()) == CONNECTION_BAD) throw_broken("cannot connect");
  silence_notices(conn_.get());
  auto deadline = Clock::now() + timeout;
  auto status = PGRES_POLLING_WRITING;
  while (status != PGRES_POLLING_OK) {
    if (status == PGRES_POLLING_FAILED) throw_broken("cannot connect");
    // libpq may open a new socket between polls (another host, SSL fallback): re-attach.
    attach_socket();
    auto dir = status == PGRES_POLLING_READING ? Direction::kRead : Direction::kWrite;
    auto wake = co_await wait_socket(dir, deadline, false);
    if (wake == Wake::kTimeout) {
      close();
      throw TimeoutError(
          "cannot connect: timed out after " +
          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()) +
          " ms");
    }
    status = PQconnectPoll(conn_.get());
  }
  if (PQsetnonblocking(conn_.get(), 1) != 0) throw_broken("cannot connect");
  attach_socket();
}

void AsyncConnection::consume_input() {
  if (!PQconsumeInput(conn_.get())) throw_broken("connection lost");
  dispatch_notifications();
}

void AsyncConnection::dispatch_notifications() {
  while (PGnotify* raw = conn_ ? PQnotifies(conn_.get()) : nullptr) {
    NotifyPtr owned(raw);
    sink_(Notification{raw->relname, raw->extra, raw->be_pid});
  }
}

asio::awaitable<AsyncConnection::Wake> AsyncConnection::wait_input(Clock::duration timeout) {
  if (!conn_) throw ConnectionError("connection closed");
  // libpq may already hold parsed notifications (read along with a query's result).
  dispatch_notifications();
  auto wake = co_await wait_socket(Direction::kRead, Clock::now() + timeout, true);
  if (wake == Wake::kInput) consume_input();
  if (!conn_) throw ConnectionError("connection closed");  // a handler stopped us
  co_return wake;
}

asio::awaitable<void> AsyncConnection::flush(Clock::time_point deadline) {
  for (;;) {
    int rc = PQflush(conn_.get());
    if (rc == 0) co_return;
    if (rc < 0) throw_broken("connection lost");
    auto wake = co_await wait_socket(Direction::kWrite, deadline, false);
    if (wake == Wake::kTimeout) {
      throw TimeoutError("timed out sending a query");
    }
  }
}

asio::awaitable<void> AsyncConnection::await_result_ready(Clock::time_point deadline) {
  while (PQisBusy(conn_.get())) {
    auto wake = co_await wait_socket(Direction::kRead, deadline, false);
    if (wake == Wake::kTimeout) {
      throw TimeoutError("timed out waiting for the server");
    }
    consume_input();
    if (!conn_) throw ConnectionError("connection closed");  // a handler stopped us
  }
}

asio::awaitable<Result> AsyncConnection::query(const std::string& sql,
                                               std::span<const char* const> params,
                                               Clock::duration timeout, bool prepare) {
  auto result = co_await execute(sql, params, timeout, nullptr, prepare);
  co_return Result(std::move(result));
}

asio::awaitable<void> AsyncConnection::query_rows(const std::string& sql,
                                                  std::span<const char* const> params,
                                                  Clock::duration timeout, const RowHandler& on_row,
                                                  bool prepare) {
  co_await execute(sql, params, timeout, &on_row, prepare);
}

asio::awaitable<const std::string*> AsyncConnection::prepared_name(const std::string& sql,
                                                                   int params,
                                                                   Clock::time_point deadline) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    auto name = "pgpulse_" + std::to_string(prepared_.size());
    if (!PQsendPrepare(conn_.get(), name.c_str(), sql.c_str(), params, nullptr)) {
      throw_broken("cannot send query");
    }
    co_await flush(deadline);
    co_await collect(deadline, nullptr);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  co_return &it->second;
}

bool AsyncConnection::send_prepared(const std::string& name, std::span<const char* const> params) {
  return PQsendQueryPrepared(conn_.get(), name.c_str(), static_cast<int>(params.size()),
                             params.data(), nullptr, nullptr, 0) != 0;
}

asio::awaitable<ResultPtr> AsyncConnection::execute(const std::string& sql,
                                                    std::span<const char* const> params,
                                                    Clock::duration timeout,
                                                    const RowHandler* on_row, bool prepare) {
  if (!conn_) throw ConnectionError("connection closed");
  auto deadline = Clock::now() + timeout;
  const auto n = static_cast<int>(params.size());
  if (prepare) {
    if (!send_prepared(*co_await prepared_name(sql, n, deadline), params)) {
      throw_broken("cannot send query");
    }
  } else if (!PQsendQueryParams(conn_.get(), sql.c_str(), n, nullptr, params.data(), nullptr,
                                nullptr, 0)) {
    throw_broken("cannot send query");
  }
  if (on_row) PQsetSingleRowMode(conn_.get());
  co_await flush(deadline);
  auto last = co_await collect(deadline, on_row);
  co_return last;
}

asio::awaitable<void> AsyncConnection::query_then_rows(Statement first, Statement second,
                                                       Clock::duration timeout,
                                                       const RowHandler& on_row) {
  if (!conn_) throw ConnectionError("connection closed");
  auto deadline = Clock::now() + timeout;
  const std::string& first_name =
      *co_await prepared_name(first.sql, static_cast<int>(first.params.size()), deadline);
  const std::string& second_name =
      *co_await prepared_name(second.sql, static_cast<int>(second.params.size()), deadline);
  // A failure below (other than an SQL error) throws ConnectionError or TimeoutError, after
  // which the connection is not used again; so only the normal path leaves pipeline mode.
  if (!PQenterPipelineMode(conn_.get()) || !send_prepared(first_name, first.params) ||
      !PQpipelineSync(conn_.get()) || !send_prepared(second_name, second.params) ||
      !PQpipelineSync(conn_.get())) {
    throw_broken("cannot send query");
  }
  co_await flush(deadline);
  ResultPtr failure;
  co_await read_results(deadline, nullptr, failure);
  co_await await_pipeline_sync(deadline);
  // In pipeline mode, single-row mode is chosen per query, before its first result is read.
  if (!PQsetSingleRowMode(conn_.get())) throw_broken("cannot read rows one at a time");
  co_await read_results(deadline, failure ? nullptr : &on_row, failure);
  co_await await_pipeline_sync(deadline);
  if (!PQexitPipelineMode(conn_.get())) throw_broken("cannot leave pipeline mode");
  if (failure) throw_result_error(conn_.get(), failure.get());
  dispatch_notifications();
}

asio::awaitable<void> AsyncConnection::await_pipeline_sync(Clock::time_point deadline) {
  co_await await_result_ready(deadline);
  ResultPtr r(PQgetResult(conn_.get()));
  if (!r || PQresultStatus(r.get()) != PGRES_PIPELINE_SYNC) {
    throw ConnectionError("protocol error: expected the end of a pipelined statement");
  }
}

asio::awaitable<ResultPtr> AsyncConnection::collect(Clock::time_point deadline,
                                                    const RowHandler* on_row) {
  ResultPtr failure;
  auto last = co_await read_results(deadline, on_row, failure);
  if (failure) throw_result_error(conn_.get(), failure.get());
  dispatch_notifications();
  co_return last;
}

asio::awaitable<ResultPtr> AsyncConnection::read_results(Clock::time_point deadline,
                                                         const RowHandler* on_row,
                                                         ResultPtr& failure) {
  ResultPtr last;
  for (;;) {
    co_await await_result_ready(deadline);
    ResultPtr r(PQgetResult(conn_.get()));
    if (!r) break;
    switch (PQresultStatus(r.get())) {
      case PGRES_SINGLE_TUPLE:
        if (!failure && on_row) (*on_row)(r.get());
        if (!conn_) throw ConnectionError("connection closed");  // the handler stopped us
        break;
      case PGRES_TUPLES_OK:
      case PGRES_COMMAND_OK:
        last = std::move(r);
        break;
      default:
        // Keep reading until libpq says the query is over, so the connection stays usable.
        if (!failure) failure = std::move(r);
    }
  }
  if (PQstatus(conn_.get()) == CONNECTION_BAD) throw_broken("connection lost");
  co_return last;
}

std::string AsyncConnection::quote_identifier(std::string_view name) {
  std::unique_ptr<char, FreememDeleter> quoted(
      PQescapeIdentifier(conn_.get(), name.data(), name.size()));
  if (!quoted) throw_result_error(conn_.get(), nullptr);
  return quoted.get();
}

}  // namespace pgpulse::pg
