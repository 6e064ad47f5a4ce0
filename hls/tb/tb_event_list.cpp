// C-simulation testbench of spikes_to_events (event_list.h), driven by
// tests/hls_engines/test_event_list.py.  Vectors: hls/tb/tb_vectors.h.
//
//   group "spikes", per case: spikes (R, N) 0/1, N one of the instantiations below
//     -> count (R,), events (R, N): the event buffer after the call, filled with 0xFFFF
//        before it (the engine must not touch the entries past count)
#include "fsvae/event_list.h"
#include "tb_vectors.h"

using namespace fsvae;

template <int N>
static void run_rows(const tbv::Array &spikes, tbv::Array &count, tbv::Array &events) {
    static spike_t x[N];
    static index_t ev[N];
    for (int64_t r = 0; r < spikes.dim(0); ++r) {
        for (int i = 0; i < N; ++i) {
            x[i] = tbv::fit<spike_t>(spikes[size_t(r * N + i)], "spike not 0/1");
            ev[i] = 0xFFFF;
        }
        index_t n = 0;
        spikes_to_events<N>(x, ev, n);
        count.put(n.to_int64());
        for (int i = 0; i < N; ++i) events.put(ev[i].to_int64());
    }
}

int main(int argc, char **argv) {
    return tbv::run(argc, argv, "tb_event_list", [](tbv::Inputs &in, tbv::Outputs &out) {
        const int64_t n = in.cases("spikes");
        for (int64_t c = 0; c < n; ++c) {
            const tbv::Array &spikes = in.get(tbv::key("spikes", c, "spikes"), {-1, -1});
            const int64_t R = spikes.dim(0), N = spikes.dim(1);
            tbv::Array &count = out.add(tbv::key("spikes", c, "count"), {R});
            tbv::Array &events = out.add(tbv::key("spikes", c, "events"), {R, N});
            switch (N) {
            case 1: run_rows<1>(spikes, count, events); break;
            case 2: run_rows<2>(spikes, count, events); break;
            case 37: run_rows<37>(spikes, count, events); break;
            case 64: run_rows<64>(spikes, count, events); break;
            case 1000: run_rows<1000>(spikes, count, events); break;
            case 65535: run_rows<65535>(spikes, count, events); break;
            default: tbv::die("no instantiation for N = %lld", (long long)N);
            }
        }
    });
}
