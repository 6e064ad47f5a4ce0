// The step control the event-driven engines share (fsvae_lif_linear,
// fsvae_convt_current): clear after reset, wait for start, accumulate, walk the N
// update words through a two-stage pipeline, report done and the step's cycle count.
// The engine owns what differs: its scatter, what a word's update computes and where it goes.
//
//   init:  after reset, N cycles, clr_addr = 0 .. N-1 (the engine clears word clr_addr).
//   idle:  start (sampled only here) begins a step: acc from the next cycle.
//   acc:   until acc_end (the engine's last scatter issue, or its empty beat) is high;
//          upd from the next cycle.
//   upd:   stage A issues word ua (upd_issue: the engine reads its RAMs), stage B holds word
//          updb (updb_v) until upd_ready; upd_adv = updb_v && upd_ready is the cycle the
//          word leaves (the engine writes it back), and a new word is issued in that same
//          cycle, so an unstalled update takes one word per cycle.  step_end (the step's
//          final output leaves) ends the step: idle from the next cycle, done pulses there.
//   busy = !idle.  cycles: busy cycles of the last completed step (start to done).
// Synchronous active-high reset.

`default_nettype none

module fsvae_engine_ctrl #(
    parameter int N   = 4,                     // update words (all cleared after reset)
    parameter int N_W = (N > 1) ? $clog2(N) : 1
) (
    input  wire logic           clk,
    input  wire logic           rst,

    input  wire logic           start,
    input  wire logic           acc_end,
    input  wire logic           upd_ready,
    input  wire logic           step_end,

    output logic                init,
    output logic                idle,
    output logic                acc,
    output logic [N_W-1:0]      clr_addr,
    output logic                upd_issue,
    output logic [N_W-1:0]      ua,
    output logic                updb_v,
    output logic [N_W-1:0]      updb,
    output logic                upd_adv,

    output logic                busy,
    output logic                done,
    output logic [31:0]         cycles
);

    localparam logic [N_W-1:0] LAST = N_W'(N - 1);
    localparam logic [1:0] S_INIT = 2'd0, S_IDLE = 2'd1, S_ACC = 2'd2, S_UPD = 2'd3;

    logic [1:0]  state;
    logic [31:0] cycles_cnt;
    logic        ua_active;    // words left to issue

    // ua + 1 by gates: the bias ROM's address (fsvae_increment)
    logic [N_W-1:0] ua_next;
    fsvae_increment #(.W(N_W)) u_ua_next (.x(ua), .y(ua_next));

    assign init      = state == S_INIT;
    assign idle      = state == S_IDLE;
    assign acc       = state == S_ACC;
    assign busy      = !idle;
    assign upd_issue = (state == S_UPD) && ua_active && (!updb_v || upd_adv);
    assign upd_adv   = updb_v && upd_ready;

    always_ff @(posedge clk) begin
        done <= 1'b0;

        case (state)
            S_INIT: begin
                clr_addr <= clr_addr + 1'b1;
                if (clr_addr == LAST) begin
                    state <= S_IDLE;
                end
            end
            S_IDLE: begin
                if (start) begin
                    state      <= S_ACC;
                    cycles_cnt <= 32'd1;
                end
            end
            S_ACC: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (acc_end) begin
                    state     <= S_UPD;
                    ua_active <= 1'b1;
                    ua        <= '0;
                end
            end
            S_UPD: begin
                cycles_cnt <= cycles_cnt + 1'b1;
                if (step_end) begin
                    state  <= S_IDLE;
                    done   <= 1'b1;
                    cycles <= cycles_cnt;
                end
            end
            default: state <= S_IDLE;
        endcase

        // update stages A and B
        if (upd_issue) begin
            ua <= ua_next;
            if (ua == LAST) begin
                ua_active <= 1'b0;
            end
            updb_v <= 1'b1;
            updb   <= ua;
        end else if (upd_adv) begin
            updb_v <= 1'b0;
        end

        if (rst) begin
            state     <= S_INIT;
            clr_addr  <= '0;
            done      <= 1'b0;
            cycles    <= '0;
            ua_active <= 1'b0;
            updb_v    <= 1'b0;
        end
    end

endmodule

`default_nettype wire
