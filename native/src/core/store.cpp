#include "store.hpp"

namespace seatlab {

SeatStore::SeatStore(std::uint32_t capacity, std::unique_ptr<Journal> journal,
                     const std::map<std::uint32_t, std::string>& seats)
    : capacity_(capacity), journal_(std::move(journal)) {
  std::uint32_t top = 0;
  for (const auto& [number, uuid] : seats) {
    uuid_of_[number] = uuid;
    number_of_[uuid] = number;
    if (number > top) top = number;
  }
  // restored seats may leave holes below the highest one: those go on the released stack
  for (std::uint32_t n = top; n >= 1; --n) {
    if (!uuid_of_.count(n)) released_.push_back(n);
  }
  next_unused_ = static_cast<std::uint64_t>(top) + 1;
}

std::uint32_t SeatStore::book(const std::string& uuid) {
  std::lock_guard lock(mutex_);
  if (auto it = number_of_.find(uuid); it != number_of_.end()) return it->second;
  std::uint32_t number;
  bool fresh = released_.empty();
  if (!fresh) {
    number = released_.back();
    released_.pop_back();
  } else if (next_unused_ <= capacity_) {
    number = static_cast<std::uint32_t>(next_unused_++);
  } else {
    return 0;
  }
  if (journal_) {
    try {
      journal_->record_book(number, uuid);
    } catch (...) {  // not in the file: the seat stays free, the next taker's
      if (fresh) --next_unused_;
      else released_.push_back(number);
      throw;
    }
  }
  uuid_of_[number] = uuid;
  number_of_[uuid] = number;
  return number;
}

std::uint32_t SeatStore::cancel(const std::string& uuid) {
  std::lock_guard lock(mutex_);
  auto it = number_of_.find(uuid);
  if (it == number_of_.end()) return 0;
  std::uint32_t number = it->second;
  if (journal_) journal_->record_cancel(number);  // first: a cancellation the file refuses changes nothing
  number_of_.erase(it);
  uuid_of_.erase(number);
  released_.push_back(number);
  return number;
}

std::uint32_t SeatStore::booked() {
  std::lock_guard lock(mutex_);
  return static_cast<std::uint32_t>(uuid_of_.size());
}

void SeatStore::commit() {
  if (journal_) journal_->commit();
}

void SeatStore::close() {
  std::lock_guard lock(mutex_);
  if (journal_) journal_->close();
}

}  // namespace seatlab
