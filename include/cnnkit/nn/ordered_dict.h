// OrderedDict (torch::OrderedDict): a map that keeps insertion order, the container that
// Module uses for its parameters, buffers and children and that named_parameters() and
// state_dict() return. Items have key() and value(); lookup by key is O(1).
// Deliberately not a std::map: PyTorch's state-dict order is registration order.
#pragma once

#include <initializer_list>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "cnnkit/core/error.h"

namespace cnnkit {

template <typename Key, typename Value>
class OrderedDict {
 public:
  class Item {
   public:
    Item(Key key, Value value) : pair_(std::move(key), std::move(value)) {}
    Value& operator*() { return value(); }
    const Value& operator*() const { return value(); }
    Value* operator->() { return &value(); }
    const Value* operator->() const { return &value(); }
    const Key& key() const noexcept { return pair_.first; }
    Value& value() noexcept { return pair_.second; }
    const Value& value() const noexcept { return pair_.second; }
    const std::pair<Key, Value>& pair() const noexcept { return pair_; }

   private:
    std::pair<Key, Value> pair_;
  };

  using Iterator = typename std::vector<Item>::iterator;
  using ConstIterator = typename std::vector<Item>::const_iterator;

  explicit OrderedDict(std::string key_description = "Key")
      : key_description_(std::move(key_description)) {}
  OrderedDict(std::initializer_list<Item> items) {
    items_.reserve(items.size());
    for (const auto& item : items) insert(item.key(), item.value());
  }

  // What a key names in error messages ("Parameter 'weight' is not defined").
  const std::string& key_description() const noexcept { return key_description_; }

  Item& front() { return checked_end("front"), items_.front(); }
  const Item& front() const { return checked_end("front"), items_.front(); }
  Item& back() { return checked_end("back"), items_.back(); }
  const Item& back() const { return checked_end("back"), items_.back(); }

  Item& operator[](size_t index) { return items_[checked_index(index)]; }
  const Item& operator[](size_t index) const { return items_[checked_index(index)]; }
  Value& operator[](const Key& key) { return items_[checked_key(key)].value(); }
  const Value& operator[](const Key& key) const { return items_[checked_key(key)].value(); }

  Value* find(const Key& key) noexcept {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].value();
  }
  const Value* find(const Key& key) const noexcept {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &items_[it->second].value();
  }
  bool contains(const Key& key) const noexcept { return index_.count(key) != 0; }

  Iterator begin() { return items_.begin(); }
  ConstIterator begin() const { return items_.begin(); }
  Iterator end() { return items_.end(); }
  ConstIterator end() const { return items_.end(); }
  size_t size() const noexcept { return items_.size(); }
  bool is_empty() const noexcept { return items_.empty(); }
  bool empty() const noexcept { return items_.empty(); }
  void reserve(size_t n) {
    items_.reserve(n);
    index_.reserve(n);
  }

  // Inserts a new key; a key that is already there is a ValueError.
  template <typename K, typename V>
  Value& insert(K&& key, V&& value) {
    CNNKIT_CHECK(index_.count(key) == 0, key_description_, " '", key, "' already defined");
    items_.emplace_back(Key(std::forward<K>(key)), Value(std::forward<V>(value)));
    index_.emplace(items_.back().key(), items_.size() - 1);
    return items_.back().value();
  }
  Value& insert(Key key, Value&& value) {
    return insert<Key, Value>(std::move(key), std::move(value));
  }
  void update(const OrderedDict& other) {
    for (const auto& item : other) insert_or_assign(item.key(), item.value());
  }
  void update(OrderedDict&& other) {
    for (auto& item : other) insert_or_assign(item.key(), std::move(item.value()));
  }
  void erase(const Key& key) {
    size_t i = checked_key(key);
    items_.erase(items_.begin() + static_cast<std::ptrdiff_t>(i));
    index_.erase(key);
    for (auto& entry : index_)
      if (entry.second > i) --entry.second;
  }
  void clear() {
    items_.clear();
    index_.clear();
  }

  const std::vector<Item>& items() const noexcept { return items_; }
  std::vector<Key> keys() const {
    std::vector<Key> out;
    out.reserve(items_.size());
    for (const auto& item : items_) out.push_back(item.key());
    return out;
  }
  std::vector<Value> values() const {
    std::vector<Value> out;
    out.reserve(items_.size());
    for (const auto& item : items_) out.push_back(item.value());
    return out;
  }
  std::vector<std::pair<Key, Value>> pairs() const {
    std::vector<std::pair<Key, Value>> out;
    out.reserve(items_.size());
    for (const auto& item : items_) out.push_back(item.pair());
    return out;
  }

 private:
  template <typename V>
  void insert_or_assign(const Key& key, V&& value) {
    if (Value* existing = find(key))
      *existing = std::forward<V>(value);
    else
      insert(key, std::forward<V>(value));
  }
  void checked_end(const char* what) const {
    CNNKIT_CHECK(!items_.empty(), "Called ", what, "() on an empty OrderedDict");
  }
  size_t checked_index(size_t index) const {
    CNNKIT_CHECK(index < items_.size(), "Index ", index, " is out of bounds for an OrderedDict of size ",
                 items_.size());
    return index;
  }
  size_t checked_key(const Key& key) const {
    auto it = index_.find(key);
    CNNKIT_CHECK(it != index_.end(), key_description_, " '", key, "' is not defined");
    return it->second;
  }

  std::unordered_map<Key, size_t> index_;
  std::vector<Item> items_;
  std::string key_description_{"Key"};
};

template <typename K, typename V>
bool operator==(const OrderedDict<K, V>& a, const OrderedDict<K, V>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].key() != b[i].key() || !(a[i].value() == b[i].value())) return false;
  return true;
}

}  // namespace cnnkit
