// Listener (raw LISTEN/NOTIFY) against the real server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <thread>

#include "pgpulse/error.hpp"
#include "pgpulse/listener.hpp"
#include "test_database.hpp"

namespace pgpulse::test {
namespace {

struct Received {
  std::string channel;
  std::string payload;
  int pid;
};

class ListenerTest : public ::testing::Test {
 protected:
  static constexpr const char* kProbe = "probe";
  bool probe_heard_ = false;

  ConnectOptions options(std::string conninfo = database_url()) {
    return {.conninfo = std::move(conninfo),
            .connect_timeout = 2000ms,
            .backoff_initial = 20ms,
            .backoff_max = 200ms,
            .probe_interval = 500ms,
            .probe_timeout = 1000ms};
  }

  void make(ConnectOptions opts) {
    listener_.emplace(io_, std::move(opts));
    listener_->on_state([this](const StateChange& s) { states_.push_back(s); });
  }

  void listen(const std::string& channel) {
    listener_->listen(channel, [this](const Notification& n) {
      if (n.payload == kProbe) {
        probe_heard_ = true;
      } else {
        received_.push_back({std::string(n.channel), std::string(n.payload), n.backend_pid});
      }
    });
  }

  // Connected, and the LISTEN commands went through (a notification to ourselves arrives).
  void start_and_settle(const std::string& channel) {
    listener_->start();
    ASSERT_TRUE(run_until(io_, [&] { return connected_count() > 0; }));
    notify_until_heard(channel);
  }

  // Probes until one arrives: then LISTEN is surely in place.
  void notify_until_heard(const std::string& channel) {
    probe_heard_ = false;
    ASSERT_TRUE(run_until(io_, [&] {
      notify(channel, kProbe);
      return run_until(
          io_, [&] { return probe_heard_; }, 100ms);
    }));
  }

  int connected_count() const {
    return static_cast<int>(std::count_if(states_.begin(), states_.end(), [](auto& s) {
      return s.state == ConnectionState::kConnected;
    }));
  }

  static void notify(const std::string& channel, const std::string& payload) {
    connect().exec("SELECT pg_notify($1, $2)", {channel, payload});
  }

  boost::asio::io_context io_;
  std::optional<Listener> listener_;
  std::vector<Received> received_;
  std::vector<StateChange> states_;
};

TEST_F(ListenerTest, ReceivesChannelPayloadAndSenderPid) {
  auto channel = unique_name("ch");
  make(options());
  listen(channel);
  start_and_settle(channel);
  auto sender = connect();
  auto pid = std::stoi(std::string(sender.exec("SELECT pg_backend_pid()").get(0, 0)));
  sender.exec("SELECT pg_notify($1, 'hello')", {channel});
  ASSERT_TRUE(run_until(io_, [&] { return !received_.empty(); }));
  EXPECT_EQ(received_[0].channel, channel);
  EXPECT_EQ(received_[0].payload, "hello");
  EXPECT_EQ(received_[0].pid, pid);
}

TEST_F(ListenerTest, ChannelNamesWithQuotesSpacesAndCapitalsWork) {
  std::string channel = "Chan \"nel\" " + unique_name("x") + " \xC3\xA9";
  make(options());
  listen(channel);
  start_and_settle(channel);
  notify(channel, "ok");
  ASSERT_TRUE(run_until(io_, [&] { return !received_.empty(); }));
  EXPECT_EQ(received_[0].channel, channel);
}

TEST_F(ListenerTest, UnlistenStopsDeliveryOfThatChannelOnly) {
  auto a = unique_name("a");
  auto b = unique_name("b");
  make(options());
  listen(a);
  listen(b);
  start_and_settle(a);
  listener_->unlisten(a);
  run_until(
      io_, [] { return false; }, 100ms);
  notify(a, "dropped");
  notify(b, "kept");
  ASSERT_TRUE(run_until(io_, [&] { return !received_.empty(); }));
  run_until(
      io_, [] { return false; }, 100ms);
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].payload, "kept");
}

TEST_F(ListenerTest, ReissuesListenAfterItsBackendIsTerminatedAndReportsTheGap) {
  auto channel = unique_name("ch");
  make(options());
  listen(channel);
  start_and_settle(channel);
  run_sql(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = "
      "'pgpulse' AND pid <> pg_backend_pid()");
  ASSERT_TRUE(run_until(io_, [&] { return connected_count() >= 2; }));
  EXPECT_TRUE(states_.back().gap) << "notifications sent meanwhile are lost: say so";
  notify_until_heard(channel);
  notify(channel, "after reconnect");
  ASSERT_TRUE(run_until(io_, [&] { return !received_.empty(); }));
  EXPECT_EQ(received_.back().payload, "after reconnect");
}

TEST_F(ListenerTest, ReconnectsAfterAServerRestart) {
  auto channel = unique_name("ch");
  make(options());
  listen(channel);
  start_and_settle(channel);
  restart_server();
  ASSERT_TRUE(run_until(
      io_, [&] { return connected_count() >= 2; }, 20s));
  notify_until_heard(channel);
}

TEST_F(ListenerTest, FirstConnectFailureIsFinalWhenRetryIsOff) {
  auto opts = options("postgresql://postgres@127.0.0.1:1/postgres");
  opts.retry_first_connect = false;
  make(opts);
  listener_->start();
  ASSERT_TRUE(run_until(
      io_, [&] { return !states_.empty() && states_.back().state == ConnectionState::kFailed; }));
  EXPECT_THAT(states_.back().reason, ::testing::HasSubstr("cannot connect"));
}

TEST_F(ListenerTest, UnreachableServerIsRetriedWithBackoff) {
  make(options("postgresql://postgres@127.0.0.1:1/postgres"));
  listener_->start();
  ASSERT_TRUE(run_until(io_, [&] {
    return std::count_if(states_.begin(), states_.end(),
                         [](auto& s) { return s.state == ConnectionState::kDisconnected; }) >= 3;
  }));
}

TEST_F(ListenerTest,
       ListenCalledEvery200MicrosecondsWhileBusyKeepsTheConnectionAndEveryNotification) {
  // listen() wakes the session; a wake-up that cancelled a LISTEN's or a probe's socket wait
  // used to fail it ("socket wait failed: Operation canceled"), so the session reconnected
  // with a gap and lost what was sent meanwhile.
  auto channel = unique_name("ch");
  auto opts = options();
  opts.probe_interval = 2ms;  // probes keep the connection busy between the LISTENs
  make(opts);
  listen(channel);
  start_and_settle(channel);

  constexpr int kCalls = 2000;
  constexpr int kSent = 200;
  boost::asio::steady_timer timer(io_);
  int calls = 0;
  std::function<void()> schedule = [&] {
    timer.expires_after(200us);
    timer.async_wait([&](boost::system::error_code ec) {
      if (ec) return;
      // A new channel each time, so a LISTEN is in flight most of the time.
      listener_->listen(channel + "_" + std::to_string(calls), [](const Notification&) {});
      if (++calls < kCalls) schedule();
    });
  };
  schedule();
  std::jthread sender([&] {
    auto db = connect();
    for (int i = 0; i < kSent; ++i) {
      db.exec("SELECT pg_notify($1, $2)", {channel, std::to_string(i)});
      std::this_thread::sleep_for(1ms);
    }
  });
  bool all_in = run_until(
      io_, [&] { return calls == kCalls && received_.size() >= std::size_t{kSent}; }, 30s);
  sender.join();
  EXPECT_TRUE(all_in) << calls << " calls, " << received_.size() << " of " << kSent
                      << " notifications";
  EXPECT_EQ(connected_count(), 1) << "never reconnected";
  for (const auto& s : states_) {
    EXPECT_NE(s.state, ConnectionState::kDisconnected) << s.reason;
    EXPECT_FALSE(s.gap);
  }
  for (std::size_t i = 0; i < received_.size(); ++i) {
    EXPECT_EQ(received_[i].payload, std::to_string(i)) << "in order, none lost";
  }
}

TEST_F(ListenerTest, DestroyingTheListenerDestroysEveryHandlerAtOnce) {
  auto channel = unique_name("ch");
  auto owner = std::make_shared<int>(0);  // stands for a session that captures its `self`
  std::weak_ptr<int> watched = owner;
  make(options());
  listen(channel);
  listener_->listen(channel + "_other", [owner](const Notification&) {});
  start_and_settle(channel);
  listener_->on_state([owner](const StateChange&) {});
  owner.reset();
  ASSERT_FALSE(watched.expired());
  listener_.reset();
  EXPECT_TRUE(watched.expired()) << "no handler outlives the listener, the loop not run since";
}

TEST_F(ListenerTest, DestroyedFromItsOwnHandlerItCallsNoHandlerAgain) {
  auto channel = unique_name("ch");
  auto owner = std::make_shared<int>(0);
  std::weak_ptr<int> watched = owner;
  make(options());
  listen(channel);
  start_and_settle(channel);
  int heard = 0;
  int calls_after = 0;
  listener_->listen(channel, [&, owner](const Notification&) {
    ++heard;
    listener_.reset();
    EXPECT_EQ(*owner, 0) << "what the running handler captured is still there";
  });
  listener_->on_state([&, owner](const StateChange&) { ++calls_after; });
  owner.reset();
  // Two in one transaction: they arrive together, and only the first reaches a handler.
  run_sql("BEGIN; SELECT pg_notify('" + channel + "', 'one'); SELECT pg_notify('" + channel +
          "', 'two'); COMMIT");
  ASSERT_TRUE(run_until(io_, [&] { return heard > 0; }));
  EXPECT_TRUE(watched.expired()) << "destroyed once the handler returned";
  run_until(
      io_, [] { return false; }, 200ms);
  EXPECT_EQ(heard, 1);
  EXPECT_EQ(calls_after, 0);
}

TEST_F(ListenerTest, InvalidConnectionStringIsRejectedAtOnce) {
  EXPECT_THROW(Listener(io_, options("host=127.0.0.1 nonsense")), ConnectionError);
}

}  // namespace
}  // namespace pgpulse::test
