// The send queue without a socket: offers, writes and their framing driven by hand.
#include "gateway/send_queue.hpp"

#include <gtest/gtest.h>

#include <string>

namespace pgpulse::gateway {
namespace {

// An event whose JSON is `size` bytes of `fill`.
hub::SharedEvent event_of(std::size_t size, char fill = 'x', std::int64_t position = 1) {
  auto record = std::make_shared<hub::EventRecord>();
  record->id = Cursor::at(position, 1);
  record->json = std::string(size, fill);
  return record;
}

// Frames an event as its JSON and a newline, as a batching WebSocket client gets it.
auto frame = [](std::string& out, const hub::Subscription&, const hub::EventRecord& event) {
  out += event.json;
  out += '\n';
};

hub::Subscription sub_a, sub_b;

TEST(SendQueue, QueuesWhileThereIsRoomThenBacklogsInOrder) {
  SendQueue queue(100);
  EXPECT_EQ(queue.offer(sub_a, event_of(60, 'a'), true), SendQueue::Offer::kQueued);
  EXPECT_EQ(queue.offer(sub_a, event_of(60, 'b'), true), SendQueue::Offer::kBacklogged);
  EXPECT_EQ(queue.offer(sub_a, event_of(10, 'c'), true), SendQueue::Offer::kBacklogged)
      << "behind a backlog even when it would fit: order holds";
  EXPECT_EQ(queue.queued_bytes(), 60u);
  EXPECT_EQ(queue.backlog_bytes(), 70u);
}

TEST(SendQueue, AMessageLargerThanTheBoundIsQueuedWhenTheQueueIsEmpty) {
  SendQueue queue(100);
  EXPECT_EQ(queue.offer(sub_a, event_of(500), true), SendQueue::Offer::kQueued);
}

TEST(SendQueue, ALiveEventBeyondTheBacklogLimitSaysTheClientIsTooSlow) {
  SendQueue queue(100);
  ASSERT_EQ(queue.offer(sub_a, event_of(100), true), SendQueue::Offer::kQueued);
  for (std::size_t i = 0; i < SendQueue::kBacklogFactor; ++i) {
    ASSERT_EQ(queue.offer(sub_a, event_of(100), true), SendQueue::Offer::kBacklogged);
  }
  EXPECT_EQ(queue.offer(sub_a, event_of(1), true), SendQueue::Offer::kTooSlow);
  EXPECT_EQ(queue.offer(sub_a, event_of(1), false), SendQueue::Offer::kBacklogged)
      << "a replay or a catch-up is paced by the client's reading, never cut off";
}

TEST(SendQueue, ControlMessagesBeyondTheBacklogLimitSayTheClientIsTooSlow) {
  SendQueue queue(100);
  std::size_t accepted = 0;
  while (queue.push_control(std::string(50, 'p'))) ++accepted;
  EXPECT_EQ(accepted, SendQueue::kBacklogFactor * 100 / 50 + 1)
      << "answers a client never reads count against the same bound as events";
  EXPECT_GT(queue.queued_bytes(), SendQueue::kBacklogFactor * 100);
}

TEST(SendQueue, OneWriteTakesEverythingQueuedThatFitsWhenBatching) {
  SendQueue queue(1000);
  (void)queue.offer(sub_a, event_of(3, 'a'), true);
  ASSERT_TRUE(queue.push_control("{ctl}\n"));
  (void)queue.offer(sub_b, event_of(3, 'b'), true);
  EXPECT_EQ(queue.next_write(true, 64 * 1024, frame), "aaa\n{ctl}\nbbb\n");
  EXPECT_FALSE(queue.has_queued());
  EXPECT_EQ(queue.queued_bytes(), 14u) << "in flight until written";
  queue.wrote();
  EXPECT_EQ(queue.queued_bytes(), 0u);
}

TEST(SendQueue, WithoutBatchingEachWriteTakesOneMessage) {
  SendQueue queue(1000);
  (void)queue.offer(sub_a, event_of(3, 'a'), true);
  (void)queue.offer(sub_a, event_of(3, 'b'), true);
  EXPECT_EQ(queue.next_write(false, 64 * 1024, frame), "aaa\n");
  queue.wrote();
  EXPECT_EQ(queue.next_write(false, 64 * 1024, frame), "bbb\n");
}

TEST(SendQueue, AWriteStopsBeforeTheMessageThatWouldPassMaxBytes) {
  SendQueue queue(1000);
  for (char c : {'a', 'b', 'c'}) (void)queue.offer(sub_a, event_of(4, c), true);
  EXPECT_EQ(queue.next_write(true, 10, frame), "aaaa\nbbbb\n");
  queue.wrote();
  EXPECT_EQ(queue.next_write(true, 10, frame), "cccc\n");
}

TEST(SendQueue, WrittenBytesMakeRoomForTheBacklogInOrder) {
  SendQueue queue(10);
  (void)queue.offer(sub_a, event_of(8, 'a'), true);
  (void)queue.offer(sub_a, event_of(8, 'b'), true);
  (void)queue.offer(sub_a, event_of(8, 'c'), true);
  EXPECT_EQ(queue.next_write(true, 1000, frame), "aaaaaaaa\n");
  queue.wrote();
  EXPECT_EQ(queue.backlog_bytes(), 8u) << "one moved into the queue, one still waits";
  EXPECT_EQ(queue.next_write(true, 1000, frame), "bbbbbbbb\n");
  queue.wrote();
  EXPECT_EQ(queue.next_write(true, 1000, frame), "cccccccc\n");
  queue.wrote();
  EXPECT_EQ(queue.backlog_bytes(), 0u);
  EXPECT_FALSE(queue.has_queued());
}

TEST(SendQueue, RemoveDropsEveryEventOfASubscriptionQueuedOrBacklogged) {
  SendQueue queue(10);
  (void)queue.offer(sub_a, event_of(8, 'a'), true);
  (void)queue.offer(sub_b, event_of(8, 'b'), true);
  (void)queue.offer(sub_a, event_of(8, 'c'), true);
  queue.remove(sub_a);
  EXPECT_EQ(queue.queued_bytes(), 0u);
  EXPECT_EQ(queue.backlog_bytes(), 8u);
  EXPECT_EQ(queue.next_write(true, 1000, frame), "");
  queue.wrote();
  EXPECT_EQ(queue.next_write(true, 1000, frame), "bbbbbbbb\n");
}

TEST(SendQueue, AnIdleClientGivesABigWriteBufferBack) {
  SendQueue queue(1 << 20);
  (void)queue.offer(sub_a, event_of(64 * 1024), true);
  (void)queue.next_write(true, 1 << 20, frame);
  EXPECT_GE(queue.write_buffer_capacity(), 64u * 1024);
  queue.wrote();
  EXPECT_LE(queue.write_buffer_capacity(), SendQueue::kKeepBufferBytes);
}

}  // namespace
}  // namespace pgpulse::gateway
