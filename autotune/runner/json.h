/*
 * json.h — the little JSON the native measurement runner needs: read the bundle's manifest.json and
 * candidates.json and the lines of a results file (to resume), and write records in the form
 * Python's json.dumps writes them (", " and ": " separators), so records from measure.py and from
 * this runner look alike. Numbers keep the text they were read with, so a spec copied from the
 * manifest into a record is the same spec, digit for digit.
 *
 * Header-only and dependency-free on purpose: the runner is compiled on machines that have nvcc and
 * nothing else we could rely on.
 */
#ifndef SAGEGEN_RUNNER_JSON_H
#define SAGEGEN_RUNNER_JSON_H

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace sgjson {

struct Value {
  enum Type { Null, Bool, Number, String, Array, Object };
  Type type = Null;
  bool boolean = false;
  std::string text;  // String: the decoded string; Number: the number as written
  std::vector<Value> items;
  std::vector<std::pair<std::string, Value>> members;  // in the order read

  const Value* get(const std::string& key) const {
    if (type != Object) return nullptr;
    for (const auto& m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }
  bool isString() const { return type == String; }
  bool isNumber() const { return type == Number; }
  double number() const { return std::strtod(text.c_str(), nullptr); }
};

namespace detail {

// Nesting deeper than this is refused rather than recursed into (a corrupt line must not crash us).
constexpr int kMaxDepth = 128;

class Parser {
 public:
  Parser(const char* begin, const char* end) : p_(begin), end_(end) {}

  bool document(Value* out) {
    space();
    if (!value(out, 0)) return false;
    space();
    return p_ == end_;
  }

 private:
  const char* p_;
  const char* end_;

  void space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool literal(const char* word) {
    const char* q = p_;
    for (; *word; ++word, ++q)
      if (q >= end_ || *q != *word) return false;
    p_ = q;
    return true;
  }
  bool value(Value* out, int depth) {
    if (depth > kMaxDepth || p_ >= end_) return false;
    switch (*p_) {
      case '{': return object(out, depth);
      case '[': return array(out, depth);
      case '"': out->type = Value::String; return string(&out->text);
      case 't': out->type = Value::Bool; out->boolean = true; return literal("true");
      case 'f': out->type = Value::Bool; out->boolean = false; return literal("false");
      case 'n': out->type = Value::Null; return literal("null");
      default: return number(out);
    }
  }
  bool object(Value* out, int depth) {
    out->type = Value::Object;
    ++p_;
    space();
    if (p_ < end_ && *p_ == '}') return ++p_, true;
    for (;;) {
      space();
      std::string key;
      if (p_ >= end_ || *p_ != '"' || !string(&key)) return false;
      space();
      if (p_ >= end_ || *p_ != ':') return false;
      ++p_;
      space();
      out->members.emplace_back(std::move(key), Value{});
      if (!value(&out->members.back().second, depth + 1)) return false;
      space();
      if (p_ >= end_) return false;
      if (*p_ == '}') return ++p_, true;
      if (*p_ != ',') return false;
      ++p_;
    }
  }
  bool array(Value* out, int depth) {
    out->type = Value::Array;
    ++p_;
    space();
    if (p_ < end_ && *p_ == ']') return ++p_, true;
    for (;;) {
      space();
      out->items.emplace_back();
      if (!value(&out->items.back(), depth + 1)) return false;
      space();
      if (p_ >= end_) return false;
      if (*p_ == ']') return ++p_, true;
      if (*p_ != ',') return false;
      ++p_;
    }
  }
  bool hex4(uint32_t* cp) {
    if (end_ - p_ < 4) return false;
    *cp = 0;
    for (int i = 0; i < 4; ++i, ++p_) {
      const char c = *p_;
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) return false;
      *cp = *cp * 16 + static_cast<uint32_t>(d);
    }
    return true;
  }
  static void utf8(std::string* s, uint32_t cp) {
    if (cp < 0x80) {
      s->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      s->push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      s->push_back(static_cast<char>(0xE0 | (cp >> 12)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      s->push_back(static_cast<char>(0xF0 | (cp >> 18)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      s->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }
  bool string(std::string* out) {
    ++p_;  // the opening quote
    while (p_ < end_) {
      const char c = *p_++;
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (p_ >= end_) return false;
      const char e = *p_++;
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp;
          if (!hex4(&cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            uint32_t low;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(&low) || low < 0xDC00 || low >= 0xE000) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          utf8(out, cp);
          break;
        }
        default: return false;
      }
    }
    return false;  // cut before the closing quote
  }
  bool number(Value* out) {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    const char* digits = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    if (p_ == digits) return false;
    if (p_ < end_ && *p_ == '.') {
      const char* frac = ++p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == frac) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      const char* exp = p_;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
      if (p_ == exp) return false;
    }
    out->type = Value::Number;
    out->text.assign(start, p_);
    return true;
  }
};

}  // namespace detail

/* Parses a whole document (one value, surrounding whitespace allowed); false on anything else,
 * including a line cut short by a kill. */
inline bool parse(const std::string& text, Value* out) {
  *out = Value{};
  return detail::Parser(text.data(), text.data() + text.size()).document(out);
}

inline void writeString(std::string* out, const std::string& s) {
  out->push_back('"');
  for (const char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          *out += buf;
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

inline std::string quote(const std::string& s) {
  std::string out;
  writeString(&out, s);
  return out;
}

/* The shortest text that reads back as the same double (what Python's repr writes), with ".0" on
 * integral values as Python writes floats. JSON has no NaN or infinity: those become null. */
inline std::string number(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

inline void write(std::string* out, const Value& v) {
  switch (v.type) {
    case Value::Null: *out += "null"; break;
    case Value::Bool: *out += v.boolean ? "true" : "false"; break;
    case Value::Number: *out += v.text; break;
    case Value::String: writeString(out, v.text); break;
    case Value::Array:
      out->push_back('[');
      for (size_t i = 0; i < v.items.size(); ++i) {
        if (i) *out += ", ";
        write(out, v.items[i]);
      }
      out->push_back(']');
      break;
    case Value::Object:
      out->push_back('{');
      for (size_t i = 0; i < v.members.size(); ++i) {
        if (i) *out += ", ";
        writeString(out, v.members[i].first);
        *out += ": ";
        write(out, v.members[i].second);
      }
      out->push_back('}');
      break;
  }
}

inline std::string dump(const Value& v) {
  std::string out;
  write(&out, v);
  return out;
}

/* An object under construction: keys with their values already written as JSON text. */
class ObjectWriter {
 public:
  ObjectWriter& raw(const std::string& key, const std::string& json) {
    fields_.emplace_back(key, json);
    return *this;
  }
  ObjectWriter& str(const std::string& key, const std::string& s) { return raw(key, quote(s)); }
  ObjectWriter& num(const std::string& key, double x) { return raw(key, number(x)); }
  ObjectWriter& integer(const std::string& key, long long x) { return raw(key, std::to_string(x)); }
  ObjectWriter& boolean(const std::string& key, bool b) { return raw(key, b ? "true" : "false"); }
  ObjectWriter& value(const std::string& key, const Value& v) { return raw(key, dump(v)); }
  std::string text() const {
    std::string out = "{";
    for (size_t i = 0; i < fields_.size(); ++i) {
      if (i) out += ", ";
      writeString(&out, fields_[i].first);
      out += ": ";
      out += fields_[i].second;
    }
    return out + "}";
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

}  // namespace sgjson

#endif
