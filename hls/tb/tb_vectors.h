// Test vectors of the HLS engine testbenches (hls/tb/tb_<engine>.cpp): named int64 arrays in a
// file.  This comment is the specification of the format; tests/hls_engines/vectors.py is its
// Python twin (write_arrays / read_arrays), and the two must change together.
//
// A file is a little-endian byte sequence; every number is a signed 64-bit word:
//   magic     0x4345564541565346 (the bytes "FSVAEVEC")
//   version   1
//   count     number of arrays, 0 .. 2^20
//   then per array, in any order (names unique):
//     name length L (1 .. 255), then L name bytes (printable ASCII, no terminator, no padding)
//     ndim (0 .. 8; 0 is a scalar holding one value), then ndim dims (each 0 .. 2^31, and
//     their product too)
//     prod(dims) values, row-major (C order)
//   and nothing after the last array.
// int64 because membrane sums and 32-bit unsigned sampler words do not fit int32.
//
// Convention of the testbenches (tests/hls_engines/tb.py packs and unpacks it): a group of
// cases is a scalar "<group>.n" and the arrays "<group>.<i>.<field>"; a testbench writes its
// results for case i of a group as "<group>.<i>.<field>" too.  Every input array must be read
// (tbv::run fails otherwise), and any malformed input or value that does not fit its hardware
// type ends the program with exit status 2 and a message on stderr.
#ifndef FSVAE_TB_VECTORS_H
#define FSVAE_TB_VECTORS_H

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <initializer_list>
#include <string>
#include <vector>

namespace tbv {

static const int64_t MAGIC = 0x4345564541565346LL;
static const int64_t VERSION = 1;
static const int64_t MAX_ARRAYS = 1 << 20, MAX_NAME = 255, MAX_NDIM = 8, MAX_DIM = 1LL << 31;

inline std::string &program() {
    static std::string name = "tb";
    return name;
}

__attribute__((format(printf, 1, 2), noreturn)) inline void die(const char *fmt, ...) {
    std::fprintf(stderr, "%s: ", program().c_str());
    va_list args;
    va_start(args, fmt);
    std::vfprintf(stderr, fmt, args);
    va_end(args);
    std::fputc('\n', stderr);
    std::exit(2);
}

struct Array {
    std::string name;
    std::vector<int64_t> dims;
    std::vector<int64_t> data;
    int64_t dim(size_t i) const { return i < dims.size() ? dims[i] : 0; }
    int64_t operator[](size_t i) const { return data[i]; }
    void put(int64_t v) { data.push_back(v); }
};

inline std::string key(const std::string &group, int64_t i, const char *field) {
    return group + "." + std::to_string(i) + "." + field;
}

// int64 -> hardware type (ap_int / ap_uint), refusing values the type cannot hold.
template <typename T>
T fit(int64_t v, const char *what) {
    T x = v;
    if (x.to_int64() != v) die("%s (%lld)", what, (long long)v);
    return x;
}

class Inputs {
  public:
    explicit Inputs(const char *path) {
        FILE *f = std::fopen(path, "rb");
        if (!f) die("cannot open %s", path);
        f_ = f;
        if (word() != MAGIC) die("%s: bad magic", path);
        if (word() != VERSION) die("%s: unsupported version", path);
        const int64_t count = word(0, MAX_ARRAYS, "array count");
        for (int64_t a = 0; a < count; ++a) {
            Array arr;
            arr.name.resize(size_t(word(1, MAX_NAME, "name length")));
            if (std::fread(&arr.name[0], 1, arr.name.size(), f_) != arr.name.size()) die("%s: truncated", path);
            for (char c : arr.name)
                if (c < 0x21 || c > 0x7e) die("%s: array name is not printable ASCII", path);
            if (has(arr.name)) die("%s: array %s twice", path, arr.name.c_str());
            const int64_t ndim = word(0, MAX_NDIM, "ndim");
            int64_t n = 1;
            for (int64_t d = 0; d < ndim; ++d) {
                arr.dims.push_back(word(0, MAX_DIM, "dim"));
                n *= arr.dims.back();
                if (n > MAX_DIM) die("%s: array %s is too large", path, arr.name.c_str());
            }
            arr.data.resize(size_t(n));
            if (n && std::fread(arr.data.data(), sizeof(int64_t), size_t(n), f_) != size_t(n))
                die("%s: truncated in array %s", path, arr.name.c_str());
            arrays_.push_back(arr);
            used_.push_back(false);
        }
        if (std::fgetc(f_) != EOF) die("%s: trailing data after the last array", path);
        std::fclose(f_);
    }

    bool has(const std::string &name) const { return find(name) >= 0; }

    // The array `name` with its dims checked against shape (-1: any size); marks it read.
    const Array &get(const std::string &name, std::initializer_list<int64_t> shape) {
        const int i = find(name);
        if (i < 0) die("missing array %s", name.c_str());
        const Array &a = arrays_[size_t(i)];
        bool ok = a.dims.size() == shape.size();
        size_t d = 0;
        for (int64_t want : shape) {
            if (want >= 0 && a.dim(d) != want) ok = false;
            ++d;
        }
        if (!ok) die("array %s has the wrong shape (ndim %zu, dims %lld, %lld, ...)", name.c_str(),
                     a.dims.size(), (long long)a.dim(0), (long long)a.dim(1));
        used_[size_t(i)] = true;
        return a;
    }

    int64_t scalar(const std::string &name, int64_t lo, int64_t hi) {
        const int64_t v = get(name, {})[0];
        if (v < lo || v > hi) die("%s = %lld is outside [%lld, %lld]", name.c_str(), (long long)v,
                                  (long long)lo, (long long)hi);
        return v;
    }

    // Number of cases of a group (0 when the file has none: a run may bring any of a
    // testbench's groups).
    int64_t cases(const std::string &group) {
        return has(group + ".n") ? scalar(group + ".n", 0, MAX_ARRAYS) : 0;
    }

    void finish() const {
        for (size_t i = 0; i < arrays_.size(); ++i)
            if (!used_[i]) die("input array %s was not read", arrays_[i].name.c_str());
    }

  private:
    FILE *f_ = nullptr;
    std::vector<Array> arrays_;
    std::vector<bool> used_;

    int find(const std::string &name) const {
        for (size_t i = 0; i < arrays_.size(); ++i)
            if (arrays_[i].name == name) return int(i);
        return -1;
    }
    int64_t word() {
        int64_t v;   // the host is little-endian (x86, ARM)
        if (std::fread(&v, sizeof v, 1, f_) != 1) die("unexpected end of input");
        return v;
    }
    int64_t word(int64_t lo, int64_t hi, const char *what) {
        const int64_t v = word();
        if (v < lo || v > hi) die("bad %s %lld", what, (long long)v);
        return v;
    }
};

class Outputs {
  public:
    // A new array; the caller put()s its prod(dims) values in row-major order (written out
    // in the order of the add() calls).
    Array &add(const std::string &name, std::initializer_list<int64_t> dims) {
        Array a;
        a.name = name;
        a.dims = dims;
        arrays_.push_back(a);
        return arrays_.back();
    }
    void scalar(const std::string &name, int64_t v) { add(name, {}).put(v); }

    void write(const char *path) const {
        FILE *f = std::fopen(path, "wb");
        if (!f) die("cannot open %s", path);
        put(f, MAGIC);
        put(f, VERSION);
        put(f, int64_t(arrays_.size()));
        for (const Array &a : arrays_) {
            int64_t n = 1;
            for (int64_t d : a.dims) n *= d;
            if (n != int64_t(a.data.size()))
                die("output %s: %zu values for %lld", a.name.c_str(), a.data.size(), (long long)n);
            put(f, int64_t(a.name.size()));
            std::fwrite(a.name.data(), 1, a.name.size(), f);
            put(f, int64_t(a.dims.size()));
            for (int64_t d : a.dims) put(f, d);
            if (n && std::fwrite(a.data.data(), sizeof(int64_t), size_t(n), f) != size_t(n)) die("write failed");
        }
        if (std::fclose(f) != 0) die("closing %s failed", path);
    }

  private:
    std::deque<Array> arrays_;   // a deque: add()'s references stay valid through later add()s
    static void put(FILE *f, int64_t v) {
        if (std::fwrite(&v, sizeof v, 1, f) != 1) die("write failed");
    }
};

// main() of a testbench: BODY(Inputs &, Outputs &) turns the input file into the output file.
template <typename BODY>
int run(int argc, char **argv, const char *name, BODY body) {
    program() = name;
    if (argc != 3) die("usage: %s <inputs.bin> <outputs.bin>", name);
    Inputs in(argv[1]);
    Outputs out;
    body(in, out);
    in.finish();
    out.write(argv[2]);
    return 0;
}

}  // namespace tbv

#endif  // FSVAE_TB_VECTORS_H
