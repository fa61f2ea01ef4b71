// A restricted unpickler for PyTorch state dicts. See torch_pickle.h.
//
// Values live in an arena and refer to each other by index, so a pickle that makes a container
// hold itself builds a cycle of indices, never of owners: nothing leaks and nothing recurses.
#include "io/torch_pickle.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <utility>

#include "core/bytes.h"
#include "core/error.h"

namespace bert {
namespace {

enum class Kind { kNone, kBool, kInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor, kMark };

struct Value {
  Kind kind = Kind::kNone;
  int64_t integer = 0;           // kInt, kBool; kStorage: numel
  std::string text;              // kString; kGlobal "module.name"; kStorage: key
  std::vector<size_t> items;     // kTuple, kList; kDict: key, value, key, value, ...
  Dtype dtype = Dtype::kF32;     // kStorage, kTensor
  size_t storage = 0;            // kTensor: the storage's value
  int64_t storage_offset = 0;    // kTensor
  std::vector<int64_t> shape, stride;  // kTensor

  static Value of(Kind kind) {
    Value value;
    value.kind = kind;
    return value;
  }
};

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone: return "None";
    case Kind::kBool: return "a bool";
    case Kind::kInt: return "an int";
    case Kind::kFloat: return "a float";
    case Kind::kString: return "a string";
    case Kind::kTuple: return "a tuple";
    case Kind::kList: return "a list";
    case Kind::kDict: return "a dict";
    case Kind::kGlobal: return "a global";
    case Kind::kStorage: return "a storage";
    case Kind::kTensor: return "a tensor";
    case Kind::kMark: return "a mark";
  }
  return "?";
}

// torch's typed storages (the persistent ids of torch >= 1.6 name them so).
bool storage_dtype(const std::string& global, Dtype* dtype) {
  static const std::map<std::string, Dtype> kTypes = {
      {"torch.FloatStorage", Dtype::kF32},   {"torch.HalfStorage", Dtype::kF16},
      {"torch.BFloat16Storage", Dtype::kBF16}, {"torch.DoubleStorage", Dtype::kF64},
      {"torch.LongStorage", Dtype::kI64},    {"torch.IntStorage", Dtype::kI32},
      {"torch.ShortStorage", Dtype::kI16},   {"torch.CharStorage", Dtype::kI8},
      {"torch.ByteStorage", Dtype::kU8},     {"torch.BoolStorage", Dtype::kBool}};
  auto it = kTypes.find(global);
  if (it == kTypes.end()) return false;
  *dtype = it->second;
  return true;
}

constexpr size_t kMaxValues = size_t(1) << 21;  // about 100,000 tensors

class Unpickler {
 public:
  // The pickle that starts at byte `start` of bytes[0, size).
  Unpickler(const std::string& path, const uint8_t* bytes, size_t size, size_t start = 0)
      : path_(path), bytes_(bytes), size_(size), pos_(start) {}

  // Runs the pickle to its STOP; returns the value it built.
  size_t run() {
    while (true) {
      op_at_ = pos_;
      const uint8_t op = read_u8();
      if (op == '.') break;  // STOP
      step(op);
    }
    if (stack_.size() != 1) fail("the pickle ends with " + std::to_string(stack_.size()) + " values on its stack, not 1");
    return stack_.back();
  }
  size_t end() const { return pos_; }  // the byte after STOP, once run

  std::vector<TorchTensorRef> state_dict(size_t id);
  // A list of strings (the legacy format's storage keys).
  std::vector<std::string> strings(size_t id);
  // The legacy format's sys_info {"little_endian": bool, ...}: false only when it says so.
  bool little_endian(size_t id);

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_input_error(path_, "pickle byte " + std::to_string(op_at_), what);
  }

  uint8_t read_u8() {
    if (pos_ >= size_) fail("the pickle ends without its STOP opcode (truncated download?)");
    return bytes_[pos_++];
  }
  uint64_t read_le(size_t count) {
    if (size_ - pos_ < count) fail("the pickle ends inside an opcode's argument");
    const uint64_t value = load_little_endian(bytes_ + pos_, count);
    pos_ += count;
    return value;
  }
  std::string read_bytes(uint64_t count) {
    if (count > size_ - pos_) fail("a string of " + std::to_string(count) + " bytes runs past the pickle's end");
    std::string text(reinterpret_cast<const char*>(bytes_ + pos_), size_t(count));
    pos_ += size_t(count);
    return text;
  }
  std::string read_line() {
    const void* end = std::memchr(bytes_ + pos_, '\n', size_ - pos_);
    if (end == nullptr) fail("a GLOBAL's name has no end of line");
    const size_t length = static_cast<const uint8_t*>(end) - (bytes_ + pos_);
    std::string text = read_bytes(length);
    ++pos_;
    return text;
  }

  size_t make(Value value) {
    // A state dict takes about 20 values per tensor; a pickle building millions is not one, and
    // is stopped before its values exhaust memory.
    if (arena_.size() >= kMaxValues)
      fail("more than " + std::to_string(kMaxValues) + " values: not a state dict this reader takes");
    arena_.push_back(std::move(value));
    return arena_.size() - 1;
  }
  void push(Value value) { stack_.push_back(make(std::move(value))); }
  size_t pop() {
    if (stack_.empty() || arena_[stack_.back()].kind == Kind::kMark) fail("an opcode pops from an empty stack");
    const size_t id = stack_.back();
    stack_.pop_back();
    return id;
  }
  // The value an opcode adds to, once its own arguments are popped.
  size_t below() {
    if (stack_.empty()) fail("an opcode adds to a container that is not on the stack");
    return stack_.back();
  }
  // The values above the topmost MARK, which is removed.
  std::vector<size_t> pop_to_mark() {
    size_t mark = stack_.size();
    while (mark > 0 && arena_[stack_[mark - 1]].kind != Kind::kMark) --mark;
    if (mark == 0) fail("an opcode needs a MARK that is not on the stack");
    std::vector<size_t> items(stack_.begin() + mark, stack_.end());
    stack_.resize(mark - 1);
    return items;
  }
  Value& expect(size_t id, Kind kind, const std::string& what) {
    if (arena_[id].kind != kind) fail(what + ": expected " + kind_name(kind) + ", found " + kind_name(arena_[id].kind));
    return arena_[id];
  }
  int64_t integer(size_t id, const std::string& what) { return expect(id, Kind::kInt, what).integer; }
  std::vector<int64_t> integers(size_t id, const std::string& what) {
    std::vector<int64_t> out;
    for (size_t item : expect(id, Kind::kTuple, what).items) out.push_back(integer(item, what));
    return out;
  }
  void memo_put(uint64_t key) {
    if (stack_.empty()) fail("a memo opcode with an empty stack");
    memo_[key] = stack_.back();
  }
  void memo_get(uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    stack_.push_back(it->second);
  }
  void push_tuple(std::vector<size_t> items) {
    Value tuple;
    tuple.kind = Kind::kTuple;
    tuple.items = std::move(items);
    push(std::move(tuple));
  }
  void push_int(int64_t value, Kind kind = Kind::kInt) {
    Value v;
    v.kind = kind;
    v.integer = value;
    push(std::move(v));
  }
  void push_string(std::string text, Kind kind = Kind::kString) {
    Value v;
    v.kind = kind;
    v.text = std::move(text);
    push(std::move(v));
  }
  void set_items(size_t dict, const std::vector<size_t>& items) {
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of values");
    Value& target = expect(dict, Kind::kDict, "SETITEM(S)");
    target.items.insert(target.items.end(), items.begin(), items.end());
  }

  void step(uint8_t op);
  void structure(uint8_t op);
  void reduce();
  void persistent_id();

  std::string path_;
  const uint8_t* bytes_;
  size_t size_;
  size_t pos_, op_at_ = 0;
  std::vector<Value> arena_;
  std::vector<size_t> stack_;
  std::map<uint64_t, size_t> memo_;
};

// Protocol, value and name opcodes; the others go to structure().
void Unpickler::step(uint8_t op) {
  switch (op) {
    case 0x80: {  // PROTO
      const uint8_t protocol = read_u8();
      if (protocol < 2 || protocol > 5) fail("pickle protocol " + std::to_string(protocol) + " (expected 2 to 5)");
      return;
    }
    case 0x95: read_le(8); return;  // FRAME: a length hint
    case '(': push(Value::of(Kind::kMark)); return;
    case 'N': push(Value::of(Kind::kNone)); return;
    case 0x88: push_int(1, Kind::kBool); return;  // NEWTRUE
    case 0x89: push_int(0, Kind::kBool); return;  // NEWFALSE
    case 'K': push_int(int64_t(read_le(1))); return;  // BININT1
    case 'M': push_int(int64_t(read_le(2))); return;  // BININT2
    case 'J': push_int(int64_t(int32_t(uint32_t(read_le(4))))); return;  // BININT
    case 0x8a: {  // LONG1: a little-endian two's complement integer of n bytes
      const uint8_t n = read_u8();
      if (n > 8) fail("an integer of " + std::to_string(n) + " bytes (more than 64 bits)");
      uint64_t value = read_le(n);
      if (n > 0 && n < 8 && (value >> (8 * n - 1)) & 1) value |= ~uint64_t(0) << (8 * n);  // sign-extend
      push_int(int64_t(value));
      return;
    }
    case 'G':  // BINFLOAT: accepted (metadata may hold one), its 8 bytes never read
      read_bytes(8);
      push(Value::of(Kind::kFloat));
      return;
    case 'X': push_string(read_bytes(read_le(4))); return;     // BINUNICODE
    case 0x8c: push_string(read_bytes(read_le(1))); return;    // SHORT_BINUNICODE
    case 0x8d: push_string(read_bytes(read_le(8))); return;    // BINUNICODE8
    case 'c': {                                                 // GLOBAL "module\nname\n"
      std::string module = read_line();
      push_string(module + "." + read_line(), Kind::kGlobal);
      return;
    }
    case 0x93: {  // STACK_GLOBAL
      const size_t name = pop(), module = pop();
      push_string(expect(module, Kind::kString, "STACK_GLOBAL's module").text + "." +
                      expect(name, Kind::kString, "STACK_GLOBAL's name").text,
                  Kind::kGlobal);
      return;
    }
    default: structure(op);
  }
}

// The opcodes that build containers, use the memo, or call: tuples, lists, dicts, storages, REDUCE, BUILD.
void Unpickler::structure(uint8_t op) {
  switch (op) {
    case 'q': memo_put(read_le(1)); return;   // BINPUT
    case 'r': memo_put(read_le(4)); return;   // LONG_BINPUT
    case 0x94: memo_put(memo_.size()); return;  // MEMOIZE
    case 'h': memo_get(read_le(1)); return;   // BINGET
    case 'j': memo_get(read_le(4)); return;   // LONG_BINGET
    case ')': push_tuple({}); return;         // EMPTY_TUPLE
    case 't': push_tuple(pop_to_mark()); return;  // TUPLE
    case 0x85: push_tuple({pop()}); return;   // TUPLE1
    case 0x86: {                              // TUPLE2
      const size_t b = pop(), a = pop();
      push_tuple({a, b});
      return;
    }
    case 0x87: {  // TUPLE3
      const size_t c = pop(), b = pop(), a = pop();
      push_tuple({a, b, c});
      return;
    }
    case ']': push(Value::of(Kind::kList)); return;  // EMPTY_LIST
    case 'a': {                                  // APPEND
      const size_t item = pop();
      expect(below(), Kind::kList, "APPEND").items.push_back(item);
      return;
    }
    case 'e': {  // APPENDS
      const std::vector<size_t> items = pop_to_mark();
      Value& list = expect(below(), Kind::kList, "APPENDS");
      list.items.insert(list.items.end(), items.begin(), items.end());
      return;
    }
    case '}': push(Value::of(Kind::kDict)); return;  // EMPTY_DICT
    case 's': {                                  // SETITEM
      const size_t value = pop(), key = pop();
      set_items(below(), {key, value});
      return;
    }
    case 'u': {  // SETITEMS
      const std::vector<size_t> items = pop_to_mark();
      set_items(below(), items);
      return;
    }
    case 'Q': persistent_id(); return;  // BINPERSID
    case 'R': reduce(); return;         // REDUCE
    case 'b': {                         // BUILD: only a dict's attributes (OrderedDict._metadata), dropped
      pop();
      expect(below(), Kind::kDict, "BUILD (setting attributes)");
      return;
    }
    default: {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op);
      fail(std::string("opcode ") + hex + " is not one a PyTorch state dict uses: refused (only tensors are read)");
    }
  }
}

// ('storage', torch.<Type>Storage, key, location, numel): a storage of the archive; the legacy
// format adds a sixth field, view_metadata, None unless the storage is a view of another (which
// torch stopped writing long ago, and which is refused).
void Unpickler::persistent_id() {
  const Value& pid = expect(pop(), Kind::kTuple, "a persistent id");
  if (pid.items.size() != 5 && pid.items.size() != 6)
    fail("a persistent id of " + std::to_string(pid.items.size()) + " fields (expected 5, or 6 in the legacy format)");
  const std::vector<size_t> fields = pid.items;
  if (fields.size() == 6 && arena_[fields[5]].kind != Kind::kNone)
    fail("a storage that is a view of another (legacy view_metadata): re-save the checkpoint with a recent torch");
  if (expect(fields[0], Kind::kString, "the persistent id's kind").text != "storage")
    fail("a persistent id of kind \"" + arena_[fields[0]].text + "\" (expected \"storage\")");
  Value storage;
  storage.kind = Kind::kStorage;
  const std::string& type = expect(fields[1], Kind::kGlobal, "the storage type").text;
  if (!storage_dtype(type, &storage.dtype)) fail("storage type " + type + " is not a supported element type");
  storage.text = expect(fields[2], Kind::kString, "the storage key").text;
  storage.integer = integer(fields[4], "the storage's size");
  if (storage.integer < 0) fail("a storage of negative size");
  push(std::move(storage));
}

void Unpickler::reduce() {
  const size_t args_id = pop(), callable_id = pop();
  const std::string global = expect(callable_id, Kind::kGlobal, "REDUCE's callable").text;
  const std::vector<size_t> args = expect(args_id, Kind::kTuple, "REDUCE's arguments").items;
  if (global == "collections.OrderedDict") {
    if (!args.empty()) fail("OrderedDict called with arguments");
    push(Value::of(Kind::kDict));
    return;
  }
  if (global == "torch._utils._rebuild_parameter") {
    if (args.size() != 3) fail("_rebuild_parameter with " + std::to_string(args.size()) + " arguments (expected 3)");
    expect(args[0], Kind::kTensor, "_rebuild_parameter's data");
    stack_.push_back(args[0]);
    return;
  }
  if (global != "torch._utils._rebuild_tensor_v2")
    fail("global " + global + " is not allowed in a tensor checkpoint (it would run Python code): refused");
  if (args.size() != 6 && args.size() != 7)
    fail("_rebuild_tensor_v2 with " + std::to_string(args.size()) + " arguments (expected 6 or 7)");
  Value tensor;
  tensor.kind = Kind::kTensor;
  tensor.storage = args[0];
  tensor.dtype = expect(args[0], Kind::kStorage, "the tensor's storage").dtype;
  tensor.storage_offset = integer(args[1], "the tensor's storage offset");
  tensor.shape = integers(args[2], "the tensor's size");
  tensor.stride = integers(args[3], "the tensor's stride");
  if (tensor.shape.size() != tensor.stride.size())
    fail("a tensor with " + std::to_string(tensor.shape.size()) + " sizes and " +
         std::to_string(tensor.stride.size()) + " strides");
  push(std::move(tensor));
}

std::vector<TorchTensorRef> Unpickler::state_dict(size_t id) {
  const Value& dict = arena_[id];
  if (dict.kind != Kind::kDict)
    fail(std::string("the checkpoint holds ") + kind_name(dict.kind) + ", not a state dict {name: tensor}");
  std::vector<TorchTensorRef> out;
  for (size_t i = 0; i + 1 < dict.items.size(); i += 2) {
    const Value& key = arena_[dict.items[i]];
    const Value& value = arena_[dict.items[i + 1]];
    if (key.kind != Kind::kString) fail(std::string("a state dict key is ") + kind_name(key.kind) + ", not a string");
    if (value.kind != Kind::kTensor)
      fail("state dict entry \"" + key.text + "\" is " + kind_name(value.kind) +
           ", not a tensor (a training checkpoint holding more than the model's state dict?)");
    const Value& storage = arena_[value.storage];
    out.push_back(TorchTensorRef{key.text, storage.text, value.dtype, storage.integer, value.storage_offset,
                                 value.shape, value.stride});
  }
  return out;
}

std::vector<std::string> Unpickler::strings(size_t id) {
  std::vector<std::string> out;
  for (size_t item : expect(id, Kind::kList, "the storage keys").items)
    out.push_back(expect(item, Kind::kString, "a storage key").text);
  return out;
}

bool Unpickler::little_endian(size_t id) {
  const Value& info = expect(id, Kind::kDict, "the legacy header's sys_info");
  for (size_t i = 0; i + 1 < info.items.size(); i += 2)
    if (arena_[info.items[i]].kind == Kind::kString && arena_[info.items[i]].text == "little_endian")
      return expect(info.items[i + 1], Kind::kBool, "sys_info's little_endian").integer != 0;
  return true;
}

}  // namespace

std::vector<TorchTensorRef> read_torch_state_dict_pickle(const std::string& path, const uint8_t* bytes, size_t size,
                                                         size_t start, size_t* end) {
  Unpickler pickle(path, bytes, size, start);
  std::vector<TorchTensorRef> tensors = pickle.state_dict(pickle.run());
  if (end != nullptr) *end = pickle.end();
  return tensors;
}

std::vector<std::string> read_string_list_pickle(const std::string& path, const uint8_t* bytes, size_t size,
                                                 size_t start, size_t* end) {
  Unpickler pickle(path, bytes, size, start);
  std::vector<std::string> strings = pickle.strings(pickle.run());
  *end = pickle.end();
  return strings;
}

bool read_little_endian_pickle(const std::string& path, const uint8_t* bytes, size_t size, size_t start, size_t* end) {
  Unpickler pickle(path, bytes, size, start);
  const bool little = pickle.little_endian(pickle.run());
  *end = pickle.end();
  return little;
}

}  // namespace bert
