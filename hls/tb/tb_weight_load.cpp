// C-simulation testbench of the run-time weight loader (weight_load.h), driven by
// tests/hls_engines/test_weight_load.py.  Vectors: hls/tb/tb_vectors.h.
//
//   stream (n): the 32-bit words of one blob, read by the memories one after the other
//   group "memory", per case: shape (4) = ROWS COUT P W_BITS (instantiated below), taken0
//     (scalar): the word count on entry -> weight (ROWS, COUT), taken, progress (scalars)
//   -> left (scalar): the stream words no memory read
#include <vector>

#include "fsvae/weight_load.h"
#include "tb_vectors.h"

using tbv::key;

struct Word {
    ap_uint<32> data;
};

struct Stream {
    std::vector<int64_t> words;
    size_t next = 0;
    Word read() {
        if (next >= words.size()) tbv::die("stream underflow after %zu words", words.size());
        Word w;
        w.data = tbv::fit<ap_uint<32> >(words[next++], "stream word not 32-bit unsigned");
        return w;
    }
};

template <int ROWS, int COUT, int P, int W>
static void run(tbv::Inputs &in, tbv::Outputs &out, int64_t c, Stream &s) {
    static ap_int<W> weight[ROWS][COUT];
    ap_uint<32> taken = in.scalar(key("memory", c, "taken0"), 0, 0xFFFFFFFFLL);
    ap_uint<32> progress = 0;
    fsvae::load_weight_memory<ROWS, COUT, P, W>(s, weight, taken, progress);
    tbv::Array &w = out.add(key("memory", c, "weight"), {ROWS, COUT});
    for (int r = 0; r < ROWS; ++r)
        for (int o = 0; o < COUT; ++o) w.put(weight[r][o].to_int64());
    out.scalar(key("memory", c, "taken"), taken.to_int64());
    out.scalar(key("memory", c, "progress"), progress.to_int64());
}

// (ROWS, COUT, P, W_BITS): a memory word of 12 bits (upper 20 of its one stream word unused),
// of 42 bits (2 stream words), of 256 bits (8 stream words, the KV260 paper model's shape)
int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_weight_load", [](tbv::Inputs &in, tbv::Outputs &out) {
        Stream s;
        s.words = in.get("stream", {-1}).data;
        for (int64_t c = 0, n = in.cases("memory"); c < n; ++c) {
            const tbv::Array &shape = in.get(key("memory", c, "shape"), {4});
            const std::vector<int64_t> &g = shape.data;
            if (g == std::vector<int64_t>{5, 6, 3, 4}) run<5, 6, 3, 4>(in, out, c, s);
            else if (g == std::vector<int64_t>{3, 14, 7, 6}) run<3, 14, 7, 6>(in, out, c, s);
            else if (g == std::vector<int64_t>{2, 64, 32, 8}) run<2, 64, 32, 8>(in, out, c, s);
            else tbv::die("memory %lld: no instantiation for its shape", (long long)c);
        }
        out.scalar("left", int64_t(s.words.size() - s.next));
    });
}
