# Stand-ins for the Vivado Tcl commands that the generated build scripts use, so that plain
# tclsh can run a script without Vivado and record what it would build.
#
#   tclsh stubs.tcl build_bitstream.tcl record.json
#
# The record (JSON) lists the project, files, message rules, block-design cells with their
# CONFIG, every pin and interface pin with its type, mode, width parameters and frequency,
# the nets, the address assignments and the build steps; sw/fsvae_fpga/toolchain/vivado_check.py
# (check_record) checks it against hw/interface.yaml and hw/boards.yaml.
#
# What a stand-in knows about an IP is the small table below: the pins and interfaces the
# scripts use, enabled and sized by the IP's CONFIG as the real IP does (PS ports, DMA stream
# widths, SmartConnect port counts).  A module reference (and, in checks, the HLS IP) gets its
# pins from the X_INTERFACE_* attributes of its Verilog source, so the real attributes are
# what is checked.  Like Vivado, a stand-in stops the script on what Vivado would refuse: an
# unknown option, an unknown CONFIG name, a pin that does not exist or is not enabled, a
# master joined to a master, a source file that does not exist.  Vivado's own checks that
# the stand-ins leave out (and check_record adds) are noted there.
#
# Environment: FSVAE_STUB_WNS / FSVAE_STUB_WHS (slack returned for the implemented design,
# default 0.1 / 0.02 ns), FSVAE_STUB_VERSION (default 2024.1), FSVAE_STUB_BOARD_PARTS (board
# parts installed; default the three boards' parts), FSVAE_STUB_IP_PORTS (Verilog with
# X_INTERFACE attributes describing a non-Xilinx IP's ports, for the HLS core).

namespace eval ::stub {
    variable project   {}      ;# name dir part props
    variable files     {}      ;# path -> file_type
    variable cells     {}      ;# name -> {kind vlnv reference config ports}
    variable pin_over  {}      ;# /cell/pin -> {PARAM value}
    variable nets      {}      ;# list of pin lists
    variable intf_nets {}      ;# list of {a b}
    variable external  {}      ;# interface pins made external
    variable steps     {}      ;# the commands that matter, in order
    variable addresses {}      ;# assign_bd_address calls
    variable automation {}
    variable msg       {}
    variable params    {}
    variable runs      {}      ;# name -> props
    variable outputs   {}      ;# files the stand-ins wrote (reports, fake bitstream)
    variable objtype           ;# object name -> type
    array set objtype {}
    variable bd        ""
    variable ip_repo_paths {}
    variable catalog_updated 0
    variable top       ""
    variable warnings  {}
    variable vlnvs {
        xilinx.com:ip:processing_system7:5.5 xilinx.com:ip:zynq_ultra_ps_e:3.5
        xilinx.com:ip:axi_dma:7.1 xilinx.com:ip:smartconnect:1.0
        xilinx.com:ip:proc_sys_reset:5.0 xilinx.com:ip:xlconcat:2.1
    }
    variable defaults
    array set defaults {
        processing_system7 {
            PCW_USE_M_AXI_GP0 1 PCW_USE_M_AXI_GP1 0 PCW_USE_S_AXI_HP0 0 PCW_USE_S_AXI_HP2 0
            PCW_S_AXI_HP0_DATA_WIDTH 64 PCW_S_AXI_HP2_DATA_WIDTH 64 PCW_EN_CLK0_PORT 1
            PCW_EN_RST0_PORT 1 PCW_FPGA0_PERIPHERAL_FREQMHZ 50 PCW_USE_FABRIC_INTERRUPT 0
            PCW_IRQ_F2P_INTR 0
        }
        zynq_ultra_ps_e {
            PSU__USE__M_AXI_GP0 1 PSU__USE__M_AXI_GP1 1 PSU__USE__M_AXI_GP2 1 PSU__USE__S_AXI_GP2 0
            PSU__USE__S_AXI_GP3 0 PSU__SAXIGP2__DATA_WIDTH 128 PSU__SAXIGP3__DATA_WIDTH 128
            PSU__FPGA_PL0_ENABLE 1 PSU__OVERRIDE__BASIC_CLOCK 1 PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ 100
            PSU__USE__IRQ0 0 PSU__NUM_FABRIC_RESETS 1
        }
        axi_dma {
            c_include_sg 1 c_sg_include_stscntrl_strm 1 c_sg_length_width 14 c_include_mm2s 1
            c_include_s2mm 1 c_m_axi_mm2s_data_width 32 c_m_axis_mm2s_tdata_width 32
            c_m_axi_s2mm_data_width 32 c_s_axis_s2mm_tdata_width 32 c_addr_width 32
        }
        smartconnect   {NUM_SI 1 NUM_MI 1 NUM_CLKS 1}
        proc_sys_reset {}
        xlconcat       {NUM_PORTS 2}
    }
}

# --- helpers ---------------------------------------------------------------------------------
proc ::stub::fail {msg} { error "\[stub\] $msg" }

# Split args into options (spec: option -> 1 takes a value, 0 is a flag) and positionals.
proc ::stub::opts {cmd argv spec} {
    set o {}
    set pos {}
    for {set i 0} {$i < [llength $argv]} {incr i} {
        set a [lindex $argv $i]
        if {[string match -* $a] && ![string is double -strict $a]} {
            if {![dict exists $spec $a]} { fail "$cmd: unknown option $a" }
            if {[dict get $spec $a]} {
                incr i
                if {$i >= [llength $argv]} { fail "$cmd: $a needs a value" }
                dict set o $a [lindex $argv $i]
            } else {
                dict set o $a 1
            }
        } else {
            lappend pos $a
        }
    }
    return [list $o $pos]
}

proc ::stub::step {args} { lappend ::stub::steps $args }
proc ::stub::norm {name} { return "/[string trimleft $name /]" }
proc ::stub::flat {pos} { set r {}; foreach p $pos { foreach x $p { lappend r $x } }; return $r }
proc ::stub::touch {path {text ""}} {
    file mkdir [file dirname $path]
    set f [open $path w]; puts -nonewline $f $text; close $f
    lappend ::stub::outputs $path
}
# A PS PL clock: a PLL divided by an integer (IO PLL 1000 MHz on Zynq-7000, 1500 MHz on
# Zynq UltraScale+, as Vivado reports them), so 250 MHz comes out as 249.9975 MHz.
proc ::stub::pll_hz {pll mhz} {
    set div [expr {max(1, round($pll / ($mhz * 1e6)))}]
    return [expr {round($pll / $div)}]
}
proc ::stub::pin {type dir {enabled 1} {params {}} {polarity ""} {width 1}} {
    return [dict create type $type dir $dir enabled $enabled params $params polarity $polarity width $width]
}
# segments: a slave's address segments, in its memory map (named after the interface unless
# memmap says otherwise: Zynq UltraScale+ HP slaves keep theirs in SAXIGP<n>); space: a
# master's address space (assign_bd_address -target_address_space)
proc ::stub::bus {vlnv mode {enabled 1} {params {}} {segments {}} {memmap ""} {space ""}} {
    return [dict create vlnv xilinx.com:interface:${vlnv}:1.0 mode $mode enabled $enabled params $params \
            ports {} segments $segments memmap $memmap space $space]
}
proc ::stub::width_ok {ip key value allowed} {
    if {$value ni $allowed} { fail "$ip: CONFIG.$key $value is not one of $allowed" }
    return $value
}

# --- the IP table: pins and interfaces of each Xilinx IP for a CONFIG --------------------------
proc ::stub::ip_processing_system7 {c} {
    set gp0 [dict get $c PCW_USE_M_AXI_GP0]
    set gp1 [dict get $c PCW_USE_M_AXI_GP1]
    set hp0 [dict get $c PCW_USE_S_AXI_HP0]
    set hp2 [dict get $c PCW_USE_S_AXI_HP2]
    set w0 [width_ok processing_system7 PCW_S_AXI_HP0_DATA_WIDTH [dict get $c PCW_S_AXI_HP0_DATA_WIDTH] {32 64}]
    set w2 [width_ok processing_system7 PCW_S_AXI_HP2_DATA_WIDTH [dict get $c PCW_S_AXI_HP2_DATA_WIDTH] {32 64}]
    set irq [expr {[dict get $c PCW_USE_FABRIC_INTERRUPT] && [dict get $c PCW_IRQ_F2P_INTR]}]
    set hz [pll_hz 1000e6 [dict get $c PCW_FPGA0_PERIPHERAL_FREQMHZ]]
    dict set m pins FCLK_CLK0 [pin clk O [dict get $c PCW_EN_CLK0_PORT] [list FREQ_HZ $hz]]
    dict set m pins FCLK_RESET0_N [pin rst O [dict get $c PCW_EN_RST0_PORT] {} low]
    dict set m pins M_AXI_GP0_ACLK [pin clk I $gp0]
    dict set m pins M_AXI_GP1_ACLK [pin clk I $gp1]
    dict set m pins S_AXI_HP0_ACLK [pin clk I $hp0]
    dict set m pins S_AXI_HP2_ACLK [pin clk I $hp2]
    dict set m pins IRQ_F2P [pin intr I $irq]
    dict set m intf M_AXI_GP0 [bus aximm master $gp0 {PROTOCOL AXI3 DATA_WIDTH 32}]
    dict set m intf M_AXI_GP1 [bus aximm master $gp1 {PROTOCOL AXI3 DATA_WIDTH 32}]
    dict set m intf S_AXI_HP0 [bus aximm slave $hp0 [list PROTOCOL AXI3 DATA_WIDTH $w0] HP0_DDR_LOWOCM]
    dict set m intf S_AXI_HP2 [bus aximm slave $hp2 [list PROTOCOL AXI3 DATA_WIDTH $w2] HP2_DDR_LOWOCM]
    dict set m intf DDR [bus ddrx slave]
    dict set m intf FIXED_IO [bus fixed_io slave]
    return $m
}

proc ::stub::ip_zynq_ultra_ps_e {c} {
    set gp0 [dict get $c PSU__USE__M_AXI_GP0]
    set gp1 [dict get $c PSU__USE__M_AXI_GP1]
    set gp2 [dict get $c PSU__USE__M_AXI_GP2]
    set hp0 [dict get $c PSU__USE__S_AXI_GP2]
    set hp1 [dict get $c PSU__USE__S_AXI_GP3]
    set w0 [width_ok zynq_ultra_ps_e PSU__SAXIGP2__DATA_WIDTH [dict get $c PSU__SAXIGP2__DATA_WIDTH] {32 64 128}]
    set w1 [width_ok zynq_ultra_ps_e PSU__SAXIGP3__DATA_WIDTH [dict get $c PSU__SAXIGP3__DATA_WIDTH] {32 64 128}]
    set hz [pll_hz 1499985000 [dict get $c PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ]]
    dict set m pins pl_clk0 [pin clk O [dict get $c PSU__FPGA_PL0_ENABLE] [list FREQ_HZ $hz]]
    dict set m pins pl_resetn0 [pin rst O [expr {[dict get $c PSU__NUM_FABRIC_RESETS] >= 1}] {} low]
    dict set m pins maxihpm0_fpd_aclk [pin clk I $gp0]
    dict set m pins maxihpm1_fpd_aclk [pin clk I $gp1]
    dict set m pins maxihpm0_lpd_aclk [pin clk I $gp2]
    dict set m pins saxihp0_fpd_aclk [pin clk I $hp0]
    dict set m pins saxihp1_fpd_aclk [pin clk I $hp1]
    dict set m pins pl_ps_irq0 [pin intr I [dict get $c PSU__USE__IRQ0]]
    dict set m intf M_AXI_HPM0_FPD [bus aximm master $gp0 {PROTOCOL AXI4 DATA_WIDTH 128}]
    dict set m intf M_AXI_HPM1_FPD [bus aximm master $gp1 {PROTOCOL AXI4 DATA_WIDTH 128}]
    dict set m intf M_AXI_HPM0_LPD [bus aximm master $gp2 {PROTOCOL AXI4 DATA_WIDTH 32}]
    dict set m intf S_AXI_HP0_FPD [bus aximm slave $hp0 [list PROTOCOL AXI4 DATA_WIDTH $w0] \
        {HP0_DDR_LOW HP0_DDR_HIGH HP0_LPS_OCM HP0_QSPI} SAXIGP2]
    dict set m intf S_AXI_HP1_FPD [bus aximm slave $hp1 [list PROTOCOL AXI4 DATA_WIDTH $w1] \
        {HP1_DDR_LOW HP1_DDR_HIGH HP1_LPS_OCM HP1_QSPI} SAXIGP3]
    return $m
}

proc ::stub::ip_axi_dma {c} {
    set sg [dict get $c c_include_sg]
    set mm2s [dict get $c c_include_mm2s]
    set s2mm [dict get $c c_include_s2mm]
    foreach {key range} {c_sg_length_width {8 26}} {
        set v [dict get $c $key]
        if {$v < [lindex $range 0] || $v > [lindex $range 1]} { fail "axi_dma: CONFIG.$key $v is outside $range" }
    }
    foreach key {c_m_axis_mm2s_tdata_width c_s_axis_s2mm_tdata_width c_m_axi_mm2s_data_width c_m_axi_s2mm_data_width} {
        if {[dict get $c $key] ni {8 16 32 64 128 256 512 1024}} { fail "axi_dma: CONFIG.$key [dict get $c $key] is not a valid width" }
    }
    dict set m pins s_axi_lite_aclk [pin clk I]
    dict set m pins m_axi_sg_aclk [pin clk I $sg]
    dict set m pins m_axi_mm2s_aclk [pin clk I $mm2s]
    dict set m pins m_axi_s2mm_aclk [pin clk I $s2mm]
    dict set m pins axi_resetn [pin rst I 1 {} low]
    dict set m pins mm2s_introut [pin intr O $mm2s]
    dict set m pins s2mm_introut [pin intr O $s2mm]
    dict set m intf S_AXI_LITE [bus aximm slave 1 {PROTOCOL AXI4LITE DATA_WIDTH 32 ADDR_WIDTH 10} Reg]
    dict set m intf M_AXI_SG [bus aximm master $sg [list PROTOCOL AXI4 DATA_WIDTH 32 ADDR_WIDTH [dict get $c c_addr_width]]]
    dict set m intf M_AXI_MM2S [bus aximm master $mm2s [list PROTOCOL AXI4 \
        DATA_WIDTH [dict get $c c_m_axi_mm2s_data_width] ADDR_WIDTH [dict get $c c_addr_width]]]
    dict set m intf M_AXI_S2MM [bus aximm master $s2mm [list PROTOCOL AXI4 \
        DATA_WIDTH [dict get $c c_m_axi_s2mm_data_width] ADDR_WIDTH [dict get $c c_addr_width]]]
    dict set m intf M_AXIS_MM2S [bus axis master $mm2s [list TDATA_NUM_BYTES [expr {[dict get $c c_m_axis_mm2s_tdata_width] / 8}] \
        HAS_TKEEP 1 HAS_TLAST 1]]
    dict set m intf S_AXIS_S2MM [bus axis slave $s2mm [list TDATA_NUM_BYTES [expr {[dict get $c c_s_axis_s2mm_tdata_width] / 8}] \
        HAS_TKEEP 1 HAS_TLAST 1]]
    set stsc [expr {$sg && [dict get $c c_sg_include_stscntrl_strm]}]
    dict set m intf M_AXIS_CNTRL [bus axis master $stsc {TDATA_NUM_BYTES 4}]
    dict set m intf S_AXIS_STS [bus axis slave $stsc {TDATA_NUM_BYTES 4}]
    return $m
}

proc ::stub::ip_smartconnect {c} {
    foreach key {NUM_SI NUM_MI} {
        if {[dict get $c $key] < 1 || [dict get $c $key] > 16} { fail "smartconnect: CONFIG.$key [dict get $c $key] outside 1..16" }
    }
    set m [dict create pins {} intf {}]
    dict set m pins aclk [pin clk I]
    dict set m pins aresetn [pin rst I 1 {} low]
    for {set i 0} {$i < [dict get $c NUM_SI]} {incr i} {
        dict set m intf [format S%02d_AXI $i] [bus aximm slave 1 {PROTOCOL AXI4}]
    }
    for {set i 0} {$i < [dict get $c NUM_MI]} {incr i} {
        dict set m intf [format M%02d_AXI $i] [bus aximm master 1 {PROTOCOL AXI4}]
    }
    return $m
}

proc ::stub::ip_proc_sys_reset {c} {
    set m [dict create pins {} intf {}]
    dict set m pins slowest_sync_clk [pin clk I]
    # ext_reset_in takes the polarity of what drives it (IP integrator propagates it)
    dict set m pins ext_reset_in [pin rst I 1 {} propagated]
    dict set m pins aux_reset_in [pin rst I 1 {} propagated]
    dict set m pins mb_debug_sys_rst [pin rst I 1 {} high]
    dict set m pins dcm_locked [pin data I]
    dict set m pins mb_reset [pin rst O 1 {} high]
    dict set m pins bus_struct_reset [pin rst O 1 {} high]
    dict set m pins peripheral_reset [pin rst O 1 {} high]
    dict set m pins interconnect_aresetn [pin rst O 1 {} low]
    dict set m pins peripheral_aresetn [pin rst O 1 {} low]
    return $m
}

proc ::stub::ip_xlconcat {c} {
    set m [dict create pins {} intf {}]
    set n [dict get $c NUM_PORTS]
    for {set i 0} {$i < $n} {incr i} { dict set m pins In$i [pin data I] }
    dict set m pins dout [pin data O 1 {} "" $n]
    return $m
}

# A module (or IP) described by Verilog with X_INTERFACE_* attributes (UG994): signal
# interfaces (clock, reset, interrupt) become pins named by their port, bus interfaces
# become interface pins named by the interface; other ports are plain pins.
proc ::stub::attributed_verilog {path module} {
    variable parsed
    set cache_key $path,$module
    if {[info exists parsed($cache_key)]} { return $parsed($cache_key) }
    set f [open $path]; set text [read $f]; close $f
    regsub -all {/\*.*?\*/} $text {} text
    regsub -all {//[^\n]*} $text {} text
    set named_module [expr {$module ne ""}]
    if {$module eq ""} {
        if {![regexp {module\s+(\w+)} $text -> module]} { fail "$path: no module" }
    }
    if {![regexp "module\\s+$module\\s*\\((.*?)\\)\\s*;" $text -> body]} {
        fail "$path: no module $module with an ANSI port list"
    }
    set attrs [regexp -all -indices -inline {\(\*[^*]*\*\)} $body]
    set decls [regexp -all -indices -inline {(input|output)\s+(?:wire\s+)?(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?([A-Za-z_]\w*)} $body]
    set m [dict create pins {} intf {}]
    set a 0
    foreach {all dir msb lsb name} $decls {
        set info {}
        set param {}
        set mode {}
        while {$a < [llength $attrs] && [lindex $attrs $a 1] < [lindex $all 0]} {
            set at [string range $body {*}[lindex $attrs $a]]
            if {[regexp {\(\*\s*(X_INTERFACE_\w+)\s*=\s*"([^"]*)"\s*\*\)} $at -> key value]} {
                switch $key {
                    X_INTERFACE_INFO      { set info $value }
                    X_INTERFACE_PARAMETER { set param $value }
                    X_INTERFACE_MODE      { set mode [string tolower $value] }
                }
            }
            incr a
        }
        set dir [expr {[string range $body {*}$dir] eq "input" ? "I" : "O"}]
        set port [string range $body {*}$name]
        set width [expr {[lindex $msb 0] < 0 ? 1 : [string range $body {*}$msb] - [string range $body {*}$lsb] + 1}]
        set p {}
        foreach item [split $param ,] {
            set item [string trim $item]
            if {$item eq ""} continue
            set k [lindex $item 0]
            set v [join [lrange $item 1 end] " "]
            if {$k ne "XIL_INTERFACENAME"} { dict set p $k $v }
        }
        if {$info eq ""} {
            dict set m pins $port [pin data $dir 1 {} "" $width]
            continue
        }
        lassign $info vlnv iname logical
        switch -glob $vlnv {
            xilinx.com:signal:clock:* { dict set m pins $port [pin clk $dir 1 $p] }
            xilinx.com:signal:reset:* {
                set pol [expr {[dict exists $p POLARITY] ? ([dict get $p POLARITY] eq "ACTIVE_LOW" ? "low" : "high") : "unspecified"}]
                dict set m pins $port [pin rst $dir 1 $p $pol]
            }
            xilinx.com:signal:interrupt:* { dict set m pins $port [pin intr $dir 1 $p] }
            default {
                if {![dict exists $m intf $iname]} {
                    dict set m intf $iname [dict create vlnv $vlnv mode "" enabled 1 params {} ports {} segments {} \
                        memmap "" space ""]
                }
                dict set m intf $iname ports $logical [dict create width $width dir $dir port $port]
                if {$param ne ""} { dict set m intf $iname params $p }
                if {$mode ne ""} { dict set m intf $iname mode $mode }
            }
        }
    }
    # the mode where no X_INTERFACE_MODE says it: from the direction of a forward signal
    dict for {iname i} [dict get $m intf] {
        if {[dict get $i mode] eq ""} {
            foreach {logical fwd} {TVALID I AWVALID I ARVALID I} {
                if {[dict exists $i ports $logical]} {
                    dict set m intf $iname mode [expr {[dict get $i ports $logical dir] eq $fwd ? "slave" : "master"}]
                }
            }
        }
        if {[string match *aximm* [dict get $i vlnv]] && [dict get $m intf $iname mode] eq "slave"} {
            dict set m intf $iname segments reg0
        }
        # a master's address space: named after the interface in a module reference, Data_<interface>
        # in a packaged IP (Vitis HLS: Data_m_axi_<bundle>); scripts look it up through the pin
        if {[string match *aximm* [dict get $i vlnv]] && [dict get $m intf $iname mode] eq "master"} {
            dict set m intf $iname space [expr {$named_module ? $iname : "Data_$iname"}]
        }
    }
    set parsed($cache_key) $m
    return $m
}

# The pins and interface pins of a cell as its CONFIG makes them now.
proc ::stub::model {cell} {
    set c [dict get $::stub::cells $cell]
    switch [dict get $c kind] {
        ip     { return [ip_[dict get $c ipname] [dict get $c config]] }
        module { return [attributed_verilog [dict get $c file] [dict get $c reference]] }
        extip  { return [attributed_verilog [dict get $c file] ""] }
    }
}

proc ::stub::find_pin {name kind} {
    set name [string trimleft $name /]
    set cell [lindex [split $name /] 0]
    set pin [join [lrange [split $name /] 1 end] /]
    if {![dict exists $::stub::cells $cell]} { return "" }
    set m [model $cell]
    set key [expr {$kind eq "intf_pin" ? "intf" : "pins"}]
    if {![dict exists $m $key $pin]} { return "" }
    if {![dict get $m $key $pin enabled]} {
        lappend ::stub::warnings "$kind /$cell/$pin exists only when enabled in the IP's CONFIG"
        return ""
    }
    set ::stub::objtype(/$cell/$pin) $kind
    return /$cell/$pin
}

proc ::stub::connected {pin} {
    foreach n $::stub::nets { if {$pin in $n} { return 1 } }
    foreach n $::stub::intf_nets { if {$pin in $n} { return 1 } }
    return [expr {$pin in $::stub::external}]
}

# --- Vivado commands -------------------------------------------------------------------------
proc version {args} {
    if {$args ne "-short"} { ::stub::fail "version: only -short is stood in for" }
    return [expr {[info exists ::env(FSVAE_STUB_VERSION)] ? $::env(FSVAE_STUB_VERSION) : "2024.1"}]
}

proc set_msg_config {args} {
    lassign [::stub::opts set_msg_config $args {-id 1 -new_severity 1 -severity 1 -limit 1 -suppress 0}] o pos
    if {![dict exists $o -id] || ![dict exists $o -new_severity]} { ::stub::fail "set_msg_config: stood in only for -id ... -new_severity ..." }
    lappend ::stub::msg [dict create id [dict get $o -id] new_severity [dict get $o -new_severity]]
}

proc create_project {args} {
    lassign [::stub::opts create_project $args {-part 1 -force 0 -in_memory 0}] o pos
    if {[llength $pos] != 2} { ::stub::fail "create_project: expects a name and a folder" }
    if {![dict exists $o -part]} { ::stub::fail "create_project: no -part" }
    set ::stub::project [dict create name [lindex $pos 0] dir [file normalize [lindex $pos 1]] \
        part [dict get $o -part] props {}]
    set ::stub::objtype([lindex $pos 0]) project
    set ::stub::objtype(sources_1) fileset
    foreach r {synth_1 impl_1} {
        dict set ::stub::runs $r [dict create name $r synthesis [expr {$r eq "synth_1"}] \
            dir [file join [dict get $::stub::project dir] "[lindex $pos 0].runs" $r] launched 0 to_step "" jobs "" waited 0]
        set ::stub::objtype($r) run
    }
    ::stub::step create_project {*}$args
    return [lindex $pos 0]
}

proc current_project {args} {
    if {$::stub::project eq ""} { ::stub::fail "current_project: no project" }
    return [dict get $::stub::project name]
}
proc current_fileset {args} { return sources_1 }

proc get_param {name} {
    return [expr {[dict exists $::stub::params $name] ? [dict get $::stub::params $name] : ""}]
}
proc set_param {name value} { dict set ::stub::params $name $value }
namespace eval ::xhub { proc get_xstores {args} { ::stub::fail "xhub: no board store in the stand-ins" } }

proc get_board_parts {args} {
    lassign [::stub::opts get_board_parts $args {-quiet 0 -latest_file_version 0 -latest_hw_revision 0 -filter 1}] o pos
    set have {tul.com.tw:pynq-z2:part0:1.0 xilinx.com:kv260_som:part0:1.4 xilinx.com:zcu104:part0:1.1}
    if {[info exists ::env(FSVAE_STUB_BOARD_PARTS)]} { set have $::env(FSVAE_STUB_BOARD_PARTS) }
    set r {}
    foreach bp $have { foreach pat $pos { if {[string match $pat $bp]} { lappend r $bp } } }
    return $r
}

proc add_files {args} {
    lassign [::stub::opts add_files $args {-norecurse 0 -fileset 1 -scan_for_includes 0}] o pos
    foreach f [::stub::flat $pos] {
        set f [file normalize $f]
        if {![file exists $f]} { ::stub::fail "add_files: $f does not exist" }
        set type [expr {[file extension $f] eq ".sv" ? "SystemVerilog" : [file extension $f] eq ".v" ? "Verilog" : "Data"}]
        dict set ::stub::files $f $type
        set ::stub::objtype($f) file
    }
    ::stub::step add_files {*}$args
    return [::stub::flat $pos]
}

proc get_files {args} {
    lassign [::stub::opts get_files $args {-all 0 -quiet 0 -of_objects 1 -filter 1}] o pos
    set r {}
    foreach pat [::stub::flat $pos] {
        foreach f [dict keys $::stub::files] {
            if {[string match $pat $f] || [string match $pat [file tail $f]]} { lappend r $f }
        }
        if {[dict exists $o -all]} {
            foreach f $::stub::outputs {
                if {[string match $pat [file tail $f]]} { lappend r $f; set ::stub::objtype($f) file }
            }
        }
    }
    if {$r eq "" && ![dict exists $o -quiet]} { lappend ::stub::warnings "get_files: nothing matches $pos" }
    return [lsort -unique $r]
}

proc update_compile_order {args} { ::stub::step update_compile_order {*}$args }

proc update_ip_catalog {args} {
    if {$::stub::ip_repo_paths eq ""} { ::stub::fail "update_ip_catalog: no ip_repo_paths set" }
    set ::stub::catalog_updated 1
    ::stub::step update_ip_catalog
}

proc get_ipdefs {args} {
    lassign [::stub::opts get_ipdefs $args {-all 0 -filter 1 -quiet 0}] o pos
    set r {}
    foreach pat [::stub::flat $pos] {
        foreach v $::stub::vlnvs { if {[string match $pat $v]} { lappend r $v; set ::stub::objtype($v) ipdef } }
    }
    return $r
}

proc create_bd_design {name} {
    if {$::stub::project eq ""} { ::stub::fail "create_bd_design: no project" }
    set ::stub::bd $name
    set path [file join [dict get $::stub::project dir] "[dict get $::stub::project name].srcs" sources_1 bd $name $name.bd]
    dict set ::stub::files $path BlockDesign
    set ::stub::objtype($path) file
    ::stub::step create_bd_design $name
    return $name
}

proc create_bd_cell {args} {
    lassign [::stub::opts create_bd_cell $args {-type 1 -vlnv 1 -reference 1}] o pos
    if {$::stub::bd eq ""} { ::stub::fail "create_bd_cell: no block design" }
    set name [lindex $pos 0]
    if {[dict exists $::stub::cells $name]} { ::stub::fail "create_bd_cell: $name exists" }
    switch [dict get $o -type] {
        ip {
            set vlnv [dict get $o -vlnv]
            lassign [split $vlnv :] vendor lib ipname ver
            if {$vlnv in $::stub::vlnvs} {
                set cell [dict create kind ip vlnv $vlnv ipname $ipname config $::stub::defaults($ipname)]
            } else {
                # an IP from ip_repo_paths (the HLS core): it must be in the refreshed catalog
                if {!$::stub::catalog_updated} { ::stub::fail "create_bd_cell: $vlnv is not in the IP catalog (ip_repo_paths + update_ip_catalog)" }
                if {![info exists ::env(FSVAE_STUB_IP_PORTS)]} { ::stub::fail "create_bd_cell: no description of $vlnv (FSVAE_STUB_IP_PORTS)" }
                set cell [dict create kind extip vlnv $vlnv file $::env(FSVAE_STUB_IP_PORTS) config {}]
            }
        }
        module {
            set ref [dict get $o -reference]
            set file ""
            dict for {f type} $::stub::files {
                if {$type ni {Verilog SystemVerilog}} continue
                set h [open $f]; set text [read $h]; close $h
                if {[regexp "module\\s+$ref\\M" $text]} { set file $f; set ftype $type }
            }
            if {$file eq ""} { ::stub::fail "create_bd_cell: no source in the project defines module $ref" }
            if {$ftype ne "Verilog"} { ::stub::fail "create_bd_cell: module reference $ref is in a $ftype file; the top of a module reference must be Verilog or VHDL (UG994)" }
            set cell [dict create kind module reference $ref file $file config {}]
        }
        default { ::stub::fail "create_bd_cell: -type [dict get $o -type]" }
    }
    dict set ::stub::cells $name $cell
    set ::stub::objtype(/$name) cell
    ::stub::model $name    ;# parse now: a bad source fails here, as in Vivado
    ::stub::step create_bd_cell {*}$args
    return /$name
}

proc get_bd_cells {args} {
    set r {}
    foreach n [::stub::flat $args] {
        if {[dict exists $::stub::cells [string trimleft $n /]]} { lappend r [::stub::norm $n] }
    }
    return $r
}
proc get_bd_pins {args} {
    set r {}
    foreach n [::stub::flat $args] { set p [::stub::find_pin $n pin]; if {$p ne ""} { lappend r $p } }
    return $r
}
proc get_bd_intf_pins {args} {
    set r {}
    foreach n [::stub::flat $args] { set p [::stub::find_pin $n intf_pin]; if {$p ne ""} { lappend r $p } }
    return $r
}
proc ::stub::memmap {iname i} {
    return [expr {[dict exists $i memmap] && [dict get $i memmap] ne "" ? [dict get $i memmap] : $iname}]
}
# a slave segment is <cell>/<memory map>/<segment>, as in Vivado; a disabled interface has none
proc get_bd_addr_segs {args} {
    lassign [::stub::opts get_bd_addr_segs $args {-quiet 0}] o pos
    set r {}
    foreach pat [::stub::flat $pos] {
        set pat [string trimleft $pat /]
        dict for {cell c} $::stub::cells {
            dict for {iname i} [dict get [::stub::model $cell] intf] {
                if {![dict get $i enabled]} continue
                set mm [::stub::memmap $iname $i]
                foreach seg [dict get $i segments] {
                    if {[string match $pat $cell/$mm/$seg]} {
                        lappend r /$cell/$mm/$seg
                        set ::stub::objtype(/$cell/$mm/$seg) addr_seg
                    }
                }
            }
        }
    }
    return $r
}
# the address spaces of master interface pins (-of_objects), or matching /<cell>/<space>
proc get_bd_addr_spaces {args} {
    lassign [::stub::opts get_bd_addr_spaces $args {-of_objects 1 -quiet 0 -filter 1}] o pos
    set r {}
    set want {}
    if {[dict exists $o -of_objects]} {
        foreach p [::stub::flat [dict get $o -of_objects]] {
            if {![info exists ::stub::objtype($p)] || $::stub::objtype($p) ne "intf_pin"} {
                ::stub::fail "get_bd_addr_spaces -of_objects: $p is not an interface pin"
            }
            lappend want $p
        }
    }
    dict for {cell c} $::stub::cells {
        dict for {iname i} [dict get [::stub::model $cell] intf] {
            if {![dict get $i enabled] || ![dict exists $i space] || [dict get $i space] eq ""} continue
            set space /$cell/[dict get $i space]
            set hit [expr {[dict exists $o -of_objects] ? "/$cell/$iname" in $want : 0}]
            foreach pat [::stub::flat $pos] { if {[string match /[string trimleft $pat /] $space]} { set hit 1 } }
            if {$hit && $space ni $r} {
                lappend r $space
                set ::stub::objtype($space) addr_space
            }
        }
    }
    return $r
}

proc connect_bd_intf_net {args} {
    lassign [::stub::opts connect_bd_intf_net $args {-boundary_type 1 -intf_net 1}] o pos
    set pins [::stub::flat $pos]
    if {[llength $pins] != 2} { ::stub::fail "connect_bd_intf_net: expects two interface pins, got '$pos' (a pin that does not exist?)" }
    set modes {}
    foreach p $pins {
        if {[::stub::connected $p]} { ::stub::fail "connect_bd_intf_net: $p is already connected" }
        set cell [lindex [split [string trimleft $p /] /] 0]
        set i [dict get [::stub::model $cell] intf [lindex [split $p /] end]]
        lappend modes [dict get $i mode]
        lappend vlnvs [dict get $i vlnv]
    }
    if {[lsort $modes] ne {master slave}} { ::stub::fail "connect_bd_intf_net: $pins are [join $modes { and }]" }
    if {[lindex $vlnvs 0] ne [lindex $vlnvs 1]} { ::stub::fail "connect_bd_intf_net: $pins are [join $vlnvs { and }]" }
    lappend ::stub::intf_nets $pins
}

proc connect_bd_net {args} {
    lassign [::stub::opts connect_bd_net $args {-net 1}] o pos
    set pins [::stub::flat $pos]
    if {[llength $pins] < 2} { ::stub::fail "connect_bd_net: expects two or more pins, got '$pos' (a pin that does not exist?)" }
    # joining a pin that is already on a net adds to that net, as in Vivado
    set merged $pins
    set keep {}
    foreach n $::stub::nets {
        set overlap 0
        foreach p $pins { if {$p in $n} { set overlap 1 } }
        if {$overlap} { set merged [concat $n $merged] } else { lappend keep $n }
    }
    set merged [lsort -unique $merged]
    set drivers 0
    foreach p $merged {
        set cell [lindex [split [string trimleft $p /] /] 0]
        if {[dict get [::stub::model $cell] pins [lindex [split $p /] end] dir] eq "O"} { incr drivers }
    }
    if {$drivers > 1} { ::stub::fail "connect_bd_net: $merged has $drivers drivers" }
    set ::stub::nets [linsert $keep end $merged]
}

proc apply_bd_automation {args} {
    lassign [::stub::opts apply_bd_automation $args {-rule 1 -config 1 -dict 1}] o pos
    set rule [dict get $o -rule]
    set cfg [dict get $o -config]
    set cell [string trimleft [lindex [::stub::flat $pos] 0] /]
    lappend ::stub::automation [dict create rule $rule config $cfg objects $pos]
    switch $rule {
        xilinx.com:bd_rule:processing_system7 - xilinx.com:bd_rule:zynq_ultra_ps_e {
            if {[dict exists $cfg apply_board_preset] && [dict get $cfg apply_board_preset]} {
                if {![dict exists $::stub::project props board_part]} {
                    ::stub::fail "apply_bd_automation: apply_board_preset without a board part"
                }
                # a preset enables the usual ports and sets the board's PS clocks
                if {$rule eq "xilinx.com:bd_rule:processing_system7"} {
                    dict set ::stub::cells $cell config PCW_FPGA0_PERIPHERAL_FREQMHZ 100
                } else {
                    foreach k {PSU__USE__M_AXI_GP0 PSU__USE__M_AXI_GP1 PSU__USE__M_AXI_GP2} { dict set ::stub::cells $cell config $k 1 }
                }
            }
            if {[dict exists $cfg make_external]} {
                foreach i [split [dict get $cfg make_external] ,] {
                    set p [::stub::find_pin $cell/[string trim $i] intf_pin]
                    if {$p eq ""} { ::stub::fail "apply_bd_automation: no interface $i on $cell" }
                    lappend ::stub::external $p
                }
            }
        }
        default { ::stub::fail "apply_bd_automation: rule $rule is not stood in for" }
    }
}

proc assign_bd_address {args} {
    lassign [::stub::opts assign_bd_address $args {-offset 1 -range 1 -target_address_space 1 -force 0 -quiet 0}] o pos
    set segs [::stub::flat $pos]
    if {$pos ne "" && $segs eq ""} { ::stub::fail "assign_bd_address: no address segment matches" }
    set a [dict create segments $segs auto [expr {$segs eq ""}]]
    foreach k {-offset -range} { if {[dict exists $o $k]} { dict set a [string range $k 1 end] [dict get $o $k] } }
    if {[dict exists $o -target_address_space]} {
        set space [::stub::flat [dict get $o -target_address_space]]
        if {[llength $space] != 1 || ![info exists ::stub::objtype($space)] || $::stub::objtype($space) ne "addr_space"} {
            ::stub::fail "assign_bd_address -target_address_space '$space': not one address space (get_bd_addr_spaces)"
        }
        if {$segs eq ""} { ::stub::fail "assign_bd_address -target_address_space: no slave segment given" }
        dict set a space $space
    }
    lappend ::stub::addresses $a
}

proc validate_bd_design {args} { ::stub::step validate_bd_design {*}$args }
proc save_bd_design {args} { ::stub::step save_bd_design {*}$args }
proc make_wrapper {args} {
    lassign [::stub::opts make_wrapper $args {-files 1 -top 0 -import 0 -fileset 1 -inst_template 0 -testbench 0}] o pos
    if {[dict get $o -files] eq ""} { ::stub::fail "make_wrapper: no block design file" }
    ::stub::step make_wrapper {*}$args
}

proc set_property {args} {
    lassign [::stub::opts set_property $args {-dict 1 -name 1 -value 1 -objects 1 -quiet 0}] o pos
    if {[dict exists $o -dict]} {
        set pairs [dict get $o -dict]
        set objs [::stub::flat $pos]
    } else {
        set pairs [lrange $pos 0 1]
        set objs [::stub::flat [lrange $pos 2 end]]
    }
    if {$objs eq ""} { ::stub::fail "set_property $pairs: no object (a name that matched nothing?)" }
    foreach obj $objs {
        if {![info exists ::stub::objtype($obj)]} { ::stub::fail "set_property: unknown object $obj" }
        foreach {key value} $pairs {
            switch $::stub::objtype($obj) {
                cell {
                    set cell [string trimleft $obj /]
                    if {![string match CONFIG.* $key]} { ::stub::fail "set_property $key on cell $cell" }
                    set k [string range $key 7 end]
                    set c [dict get $::stub::cells $cell]
                    if {[dict get $c kind] eq "ip" && ![dict exists $::stub::defaults([dict get $c ipname]) $k]} {
                        ::stub::fail "set_property: [dict get $c ipname] has no CONFIG.$k in the stand-ins' table (a typo, or add it to hw/vivado/stubs.tcl)"
                    }
                    dict set ::stub::cells $cell config $k $value
                    ::stub::model $cell    ;# refuses out-of-range values, as the IP does
                }
                pin - intf_pin {
                    dict set ::stub::pin_over $obj [string map {CONFIG. ""} $key] $value
                }
                project {
                    if {$key eq "board_part" && $value ni [get_board_parts *]} { ::stub::fail "set_property board_part: $value is not installed" }
                    if {$key eq "ip_repo_paths"} {
                        foreach d $value { if {![file isdirectory $d]} { ::stub::fail "ip_repo_paths: $d is not a folder" } }
                        set ::stub::ip_repo_paths $value
                    }
                    dict set ::stub::project props $key $value
                }
                file { dict set ::stub::files $obj $value }
                fileset { if {$key eq "top"} { set ::stub::top $value } }
                run { dict set ::stub::runs $obj props $key $value }
                default { ::stub::fail "set_property on a $::stub::objtype($obj)" }
            }
        }
    }
}

proc get_property {name obj} {
    if {[llength $obj] != 1} { ::stub::fail "get_property $name: expects one object, got '$obj'" }
    set obj [lindex $obj 0]
    if {![info exists ::stub::objtype($obj)]} { ::stub::fail "get_property $name: unknown object $obj" }
    switch $::stub::objtype($obj) {
        ipdef { if {$name eq "VLNV"} { return $obj } }
        project {
            set props [dict get $::stub::project props]
            return [expr {[dict exists $props $name] ? [dict get $props $name] : ""}]
        }
        pin - intf_pin {
            set k [string map {CONFIG. ""} $name]
            if {[dict exists $::stub::pin_over $obj $k]} { return [dict get $::stub::pin_over $obj $k] }
            set cell [lindex [split [string trimleft $obj /] /] 0]
            set kind [expr {$::stub::objtype($obj) eq "pin" ? "pins" : "intf"}]
            set p [dict get [::stub::model $cell] $kind [lindex [split $obj /] end] params]
            if {[dict exists $p $k]} { return [dict get $p $k] }
            return ""
        }
        cell {
            set c [dict get $::stub::cells [string trimleft $obj /] config]
            set k [string map {CONFIG. ""} $name]
            return [expr {[dict exists $c $k] ? [dict get $c $k] : ""}]
        }
        run {
            set r [dict get $::stub::runs $obj]
            switch $name {
                NAME      { return $obj }
                DIRECTORY { return [dict get $r dir] }
                PROGRESS  { return [expr {[dict get $r launched] ? "100%" : "0%"}] }
                STATUS    { return [expr {[dict get $r launched] ? "complete (stand-in)" : "Not started"}] }
                IS_SYNTHESIS { return [dict get $r synthesis] }
            }
        }
        path {
            if {$name eq "SLACK"} {
                if {$obj eq "path_setup"} {
                    return [expr {[info exists ::env(FSVAE_STUB_WNS)] ? $::env(FSVAE_STUB_WNS) : 0.1}]
                }
                return [expr {[info exists ::env(FSVAE_STUB_WHS)] ? $::env(FSVAE_STUB_WHS) : 0.02}]
            }
        }
    }
    ::stub::fail "get_property $name of a $::stub::objtype($obj) is not stood in for"
}

proc get_runs {args} {
    lassign [::stub::opts get_runs $args {-filter 1 -quiet 0}] o pos
    set r {}
    dict for {name run} $::stub::runs {
        if {$pos ne "" && $name ni [::stub::flat $pos]} continue
        if {[dict exists $o -filter] && [string match *IS_SYNTHESIS* [dict get $o -filter]] && ![dict get $run synthesis]} continue
        lappend r $name
    }
    return $r
}

proc launch_runs {args} {
    lassign [::stub::opts launch_runs $args {-to_step 1 -jobs 1 -next_step 0}] o pos
    if {[::stub::flat $pos] ne "impl_1"} { ::stub::fail "launch_runs: stood in for impl_1 only" }
    if {$::stub::top eq ""} { ::stub::fail "launch_runs: the sources_1 fileset has no top" }
    foreach need {validate_bd_design make_wrapper} {
        if {[lsearch -index 0 $::stub::steps $need] < 0} { ::stub::fail "launch_runs before $need" }
    }
    set to [expr {[dict exists $o -to_step] ? [dict get $o -to_step] : "route_design"}]
    foreach r {synth_1 impl_1} {
        dict set ::stub::runs $r launched 1
        dict set ::stub::runs $r to_step $to
        dict set ::stub::runs $r jobs [expr {[dict exists $o -jobs] ? [dict get $o -jobs] : 1}]
        ::stub::touch [file join [dict get $::stub::runs $r dir] runme.log] "stand-in run\n"
    }
    # what Vivado 2024.1 leaves behind: the bitstream in the run folder, the hardware
    # handoff of the block design in the project's .gen folder
    set p $::stub::project
    if {$to eq "write_bitstream"} {
        ::stub::touch [file join [dict get $::stub::runs impl_1 dir] $::stub::top.bit] "stand-in bitstream\n"
    }
    ::stub::touch [file join [dict get $p dir] "[dict get $p name].gen" sources_1 bd $::stub::bd hw_handoff $::stub::bd.hwh] \
        "<stand-in hwh/>\n"
    ::stub::step launch_runs {*}$args
}

proc wait_on_run {args} {
    lassign [::stub::opts wait_on_run $args {-timeout 1}] o pos
    dict set ::stub::runs [::stub::flat $pos] waited 1
    ::stub::step wait_on_run {*}$args
}
proc open_run {args} {
    if {![dict get $::stub::runs [lindex $args 0] launched]} { ::stub::fail "open_run: [lindex $args 0] has not run" }
    ::stub::step open_run {*}$args
}

proc ::stub::report {cmd spec args} {
    lassign [::stub::opts $cmd $args $spec] o pos
    ::stub::step $cmd {*}$args
    if {[dict exists $o -file]} { ::stub::touch [dict get $o -file] "stand-in $cmd\n" }
    return "stand-in $cmd"
}
proc report_timing_summary {args} { ::stub::report report_timing_summary {-max_paths 1 -file 1 -return_string 0} {*}$args }
proc report_utilization {args} { ::stub::report report_utilization {-file 1 -hierarchical 0 -hierarchical_depth 1 -return_string 0} {*}$args }
proc report_timing {args} { ::stub::report report_timing {-max_paths 1 -nworst 1 -setup 0 -hold 0 -file 1 -append 0 -return_string 0} {*}$args }
proc get_timing_paths {args} {
    lassign [::stub::opts get_timing_paths $args {-max_paths 1 -nworst 1 -setup 0 -hold 0}] o pos
    ::stub::step get_timing_paths {*}$args
    set p [expr {[dict exists $o -hold] ? "path_hold" : "path_setup"}]
    set ::stub::objtype($p) path
    return $p
}

# --- the record ----------------------------------------------------------------------------
proc ::stub::js {s} {
    return "\"[string map [list \\ \\\\ \" \\\" \n \\n \r \\r \t \\t] $s]\""
}
proc ::stub::jd {d} {    ;# flat dict of strings
    set items {}
    dict for {k v} $d { lappend items "[js $k]: [js $v]" }
    return "{[join $items {, }]}"
}
proc ::stub::jl {l} {    ;# list of strings
    set items {}
    foreach v $l { lappend items [js $v] }
    return "\[[join $items {, }]\]"
}

proc ::stub::write_record {path code err} {
    variable cells
    set pins {}
    set intfs {}
    set cellj {}
    if {[catch {
        dict for {name c} $cells {
            set m [model $name]
            set kv [list "\"kind\": [js [dict get $c kind]]" "\"config\": [jd [dict get $c config]]"]
            foreach k {vlnv reference file} { if {[dict exists $c $k]} { lappend kv "\"$k\": [js [dict get $c $k]]" } }
            lappend cellj "[js $name]: {[join $kv {, }]}"
            dict for {p i} [dict get $m pins] {
                set params [dict get $i params]
                if {[dict exists $::stub::pin_over /$name/$p]} { set params [dict merge $params [dict get $::stub::pin_over /$name/$p]] }
                lappend pins "[js /$name/$p]: {\"type\": [js [dict get $i type]], \"dir\": [js [dict get $i dir]],\
 \"enabled\": [dict get $i enabled], \"polarity\": [js [dict get $i polarity]], \"width\": [dict get $i width],\
 \"params\": [jd $params], \"hdl_params\": [jd [dict get $i params]]}"
            }
            dict for {p i} [dict get $m intf] {
                set params [dict get $i params]
                set hdl $params
                if {[dict exists $::stub::pin_over /$name/$p]} { set params [dict merge $params [dict get $::stub::pin_over /$name/$p]] }
                set ports {}
                dict for {l pd} [dict get $i ports] { lappend ports "[js $l]: [dict get $pd width]" }
                lappend intfs "[js /$name/$p]: {\"vlnv\": [js [dict get $i vlnv]], \"mode\": [js [dict get $i mode]],\
 \"enabled\": [dict get $i enabled], \"params\": [jd $params], \"hdl_params\": [jd $hdl],\
 \"ports\": {[join $ports {, }]}, \"segments\": [jl [dict get $i segments]],\
 \"memmap\": [js [::stub::memmap $p $i]], \"space\": [js [expr {[dict exists $i space] ? [dict get $i space] : ""}]]}"
            }
        }
    } msg]} {
        set err "$err; while writing the record: $msg"
    }
    set nets {}
    foreach n $::stub::nets { lappend nets [jl $n] }
    set inets {}
    foreach n $::stub::intf_nets { lappend inets [jl $n] }
    set addrs {}
    foreach a $::stub::addresses {
        set kv [list "\"segments\": [jl [dict get $a segments]]" "\"auto\": [expr {[dict get $a auto] ? "true" : "false"}]"]
        foreach k {offset range space} { if {[dict exists $a $k]} { lappend kv "\"$k\": [js [dict get $a $k]]" } }
        lappend addrs "{[join $kv {, }]}"
    }
    set steps {}
    foreach s $::stub::steps { lappend steps [jl $s] }
    set msgs {}
    foreach m $::stub::msg { lappend msgs [jd $m] }
    set autos {}
    foreach a $::stub::automation {
        lappend autos "{\"rule\": [js [dict get $a rule]], \"config\": [js [dict get $a config]]}"
    }
    set runs {}
    dict for {r d} $::stub::runs {
        lappend runs "[js $r]: {\"launched\": [dict get $d launched], \"to_step\": [js [dict get $d to_step]],\
 \"jobs\": [js [dict get $d jobs]], \"waited\": [dict get $d waited]}"
    }
    set proj "{}"
    if {$::stub::project ne ""} {
        set p $::stub::project
        set proj "{\"name\": [js [dict get $p name]], \"dir\": [js [dict get $p dir]], \"part\": [js [dict get $p part]],\
 \"props\": [jd [dict get $p props]]}"
    }
    set f [open $path w]
    puts $f "{\"exit_code\": $code, \"error\": [js $err], \"project\": $proj,"
    puts $f " \"msg_config\": \[[join $msgs {, }]\], \"params\": [jd $::stub::params],"
    puts $f " \"files\": [jd $::stub::files], \"ip_repo_paths\": [jl $::stub::ip_repo_paths],"
    puts $f " \"bd\": [js $::stub::bd], \"top\": [js $::stub::top],"
    puts $f " \"cells\": {[join $cellj {, }]},"
    puts $f " \"pins\": {[join $pins ",\n  "]},"
    puts $f " \"intf_pins\": {[join $intfs ",\n  "]},"
    puts $f " \"nets\": \[[join $nets {, }]\], \"intf_nets\": \[[join $inets {, }]\], \"external\": [jl $::stub::external],"
    puts $f " \"automation\": \[[join $autos {, }]\], \"addresses\": \[[join $addrs {, }]\],"
    puts $f " \"steps\": \[[join $steps ",\n  "]\],"
    puts $f " \"runs\": {[join $runs {, }]}, \"outputs\": [jl $::stub::outputs], \"warnings\": [jl $::stub::warnings]}"
    close $f
}

# --- driver --------------------------------------------------------------------------------
if {[llength $argv] != 2} {
    puts stderr "usage: tclsh stubs.tcl build_bitstream.tcl record.json"
    exit 2
}
set ::stub::record_path [lindex $argv 1]
rename exit ::stub::real_exit
proc exit {{code 0}} {
    ::stub::write_record $::stub::record_path $code ""
    ::stub::real_exit $code
}
set script [file normalize [lindex $argv 0]]
set ::argv {}
set ::argc 0
# an error stops the script, as in Vivado's batch mode (which then exits with status 1)
if {[catch {uplevel #0 [list source $script]} msg]} {
    puts stderr "ERROR: $msg"
    ::stub::write_record $::stub::record_path 1 $msg
    ::stub::real_exit 1
}
::stub::write_record $::stub::record_path 0 ""
::stub::real_exit 0
