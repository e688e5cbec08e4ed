// The hub without network or database: events published by hand, loops polled by hand.
#include "hub/hub.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <utility>
#include <vector>

namespace pgpulse::hub {
namespace {

ChangeEvent change(std::int64_t position, TableName table = {"public", "messages"},
                   std::string row = R"({"id":1,"room":5})") {
  ChangeEvent e;
  e.id = Cursor::at(position, 1);
  e.op = Op::kInsert;
  e.schema = std::move(table.schema);
  e.table = std::move(table.name);
  e.commit_time = "2026-11-24T07:42:31.052509Z";
  e.new_row = std::move(row);
  return e;
}

// Records what it is given; may run an action inside deliver().
class FakeSubscriber : public Subscriber {
 public:
  void deliver(const Subscription& sub, const SharedEvent& event) override {
    received.emplace_back(sub.id, event->id.position());
    if (on_deliver) on_deliver(sub);
  }
  std::vector<std::pair<std::string, std::int64_t>> received;
  std::function<void(const Subscription&)> on_deliver;
};

Subscription subscription(std::string id, Subscriber& subscriber,
                          TableName table = {"public", "messages"}) {
  Subscription sub;
  sub.id = std::move(id);
  sub.table = std::move(table);
  sub.subscriber = &subscriber;
  return sub;
}

using Received = std::vector<std::pair<std::string, std::int64_t>>;

class HubTest : public ::testing::Test {
 protected:
  HubTest() : hub_({&loop0_, &loop1_}, RingLimits{.max_events = 4}) {
    hub_.set_base(Cursor::at(0));
  }
  void run_loops() {
    loop0_.poll();
    loop0_.restart();
    loop1_.poll();
    loop1_.restart();
  }
  boost::asio::io_context loop0_;
  boost::asio::io_context loop1_;
  Hub hub_;
};

TEST_F(HubTest, FansOutEachEventToTheSubscriptionsOfEveryLoop) {
  FakeSubscriber a, b, c;
  auto sa = subscription("a", a), sb = subscription("b", b), sc = subscription("c", c);
  hub_.attach_now(0, sa);
  hub_.attach_now(0, sb);
  hub_.attach_now(1, sc);
  hub_.publish(change(1));
  hub_.publish(change(2));
  run_loops();
  EXPECT_EQ(a.received, (Received{{"a", 1}, {"a", 2}}));
  EXPECT_EQ(b.received, (Received{{"b", 1}, {"b", 2}}));
  EXPECT_EQ(c.received, (Received{{"c", 1}, {"c", 2}}));
  EXPECT_EQ(hub_.loop_hub(0).subscriptions(), 2u);
  EXPECT_EQ(hub_.loop_hub(1).subscriptions(), 1u);
}

TEST_F(HubTest, RoutesATableWithADotInItsNameApartFromASchemaWithADot) {
  // a."b.c" and "a.b".c were both routed by the key "a.b.c".
  FakeSubscriber dotted_table, dotted_schema;
  auto st = subscription("t", dotted_table, {"a", "b.c"});
  auto ss = subscription("s", dotted_schema, {"a.b", "c"});
  hub_.attach_now(0, st);
  hub_.attach_now(0, ss);
  hub_.publish(change(1, {"a", "b.c"}));
  hub_.publish(change(2, {"a.b", "c"}));
  run_loops();
  EXPECT_EQ(dotted_table.received, (Received{{"t", 1}}));
  EXPECT_EQ(dotted_schema.received, (Received{{"s", 2}}));
}

TEST_F(HubTest, AttachReplaysTheWantedRingEventsAfterTheCursorAndThenDeliversLive) {
  FakeSubscriber s;
  hub_.publish(change(1));
  hub_.publish(change(2, {"public", "other"}));
  hub_.publish(change(3));
  run_loops();  // nobody attached yet
  auto sub = subscription("s", s);
  std::vector<SharedEvent> replay;
  ASSERT_TRUE(hub_.attach(0, sub, Cursor::at(1, 1), replay));
  ASSERT_EQ(replay.size(), 1u) << "only event 3: after the cursor and of the table";
  EXPECT_EQ(replay[0]->id.position(), 3);
  hub_.publish(change(4));
  run_loops();
  EXPECT_EQ(s.received, (Received{{"s", 4}}));
}

TEST_F(HubTest, AttachRefusesACursorOlderThanTheRing) {
  for (int i = 1; i <= 6; ++i) hub_.publish(change(i));  // the ring keeps 4: 3..6
  run_loops();
  FakeSubscriber s;
  auto sub = subscription("s", s);
  std::vector<SharedEvent> replay;
  EXPECT_FALSE(hub_.attach(0, sub, Cursor::at(1, 1), replay));
  EXPECT_TRUE(replay.empty());
  EXPECT_EQ(hub_.loop_hub(0).subscriptions(), 0u) << "nothing registered";
  EXPECT_TRUE(hub_.attach(0, sub, Cursor::at(2, 1), replay));
  EXPECT_EQ(replay.size(), 4u);
  hub_.detach(0, sub);
}

TEST_F(HubTest, AnEventPublishedBeforeAttachIsNotDeliveredLiveAgain) {
  FakeSubscriber s;
  auto sub = subscription("s", s);
  hub_.publish(change(1));  // posted to the loops, not dispatched yet
  std::vector<SharedEvent> replay;
  ASSERT_TRUE(hub_.attach(0, sub, Cursor::at(0), replay));
  EXPECT_EQ(replay.size(), 1u);
  run_loops();
  EXPECT_TRUE(s.received.empty()) << "replayed once, not delivered live a second time";
  hub_.detach(0, sub);
}

TEST_F(HubTest, ASubscriptionDetachedDuringADispatchGetsNothingMoreOfIt) {
  FakeSubscriber first, second;
  auto s1 = subscription("1", first), s2 = subscription("2", second);
  hub_.attach_now(0, s1);
  hub_.attach_now(0, s2);
  // Whichever is delivered first detaches both (a session closing on a slow client, say).
  auto detach_both = [&](const Subscription&) {
    if (s1.registered) hub_.detach(0, s1);
    if (s2.registered) hub_.detach(0, s2);
  };
  first.on_deliver = detach_both;
  second.on_deliver = detach_both;
  hub_.publish(change(1));
  hub_.publish(change(2));
  run_loops();
  EXPECT_EQ(first.received.size() + second.received.size(), 1u);
  EXPECT_EQ(hub_.loop_hub(0).subscriptions(), 0u);
}

TEST_F(HubTest, AFilteredSubscriptionGetsOnlyMatchingRowsButEveryTruncate) {
  FakeSubscriber s;
  auto sub = subscription("s", s);
  sub.filter = RowFilter::parse("room=eq.5");
  hub_.attach_now(0, sub);
  hub_.publish(change(1, {"public", "messages"}, R"({"id":1,"room":5})"));
  hub_.publish(change(2, {"public", "messages"}, R"({"id":2,"room":6})"));
  auto truncate = change(3);
  truncate.op = Op::kTruncate;
  truncate.new_row.reset();
  hub_.publish(truncate);
  run_loops();
  EXPECT_EQ(s.received, (Received{{"s", 1}, {"s", 3}}));
  hub_.detach(0, sub);
}

}  // namespace
}  // namespace pgpulse::hub
