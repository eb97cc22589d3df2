#!/usr/bin/env bash
# summarize.sh [FILE]: the BENCH lines of bed-bench.sh (or run-in-l1.sh) as a table: per figure and column
# the median, min and max over the rounds (nan values left out, counted), and the lguest/QEMU ratios
# (lguest-aot and lguest-jit over qemu-pc and qemu-microvm), each the median of the ratios paired round by
# round, as bench/Lguest.Compare takes them. For times lower is better, for MB/s higher; a ratio is always
# lguest's figure over QEMU's. Reads stdin without FILE.
set -euo pipefail

tr -d '\r' < "${1:-/dev/stdin}" | awk -F '\t' '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        if (n == 0) return "nan"
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function extreme(list, want,   n, a, i, m) {
        n = split(list, a, " ")
        if (n == 0) return "nan"
        m = a[1] + 0
        for (i = 2; i <= n; i++) if ((want == "min" && a[i] + 0 < m) || (want == "max" && a[i] + 0 > m)) m = a[i] + 0
        return m
    }
    # The median over the rounds of fig/column l over fig/column q, rounds where both have a number.
    function ratio(fig, l, q,   r, list, m) {
        list = ""
        for (r = 1; r <= rounds; r++)
            if ((fig, l, r) in at && (fig, q, r) in at && at[fig, q, r] + 0 != 0)
                list = list " " at[fig, l, r] / at[fig, q, r]
        m = median(list)
        return m == "nan" ? "  -  " : sprintf("%5.2f", m)
    }
    $1 == "BENCH" && NF == 7 {
        key = $3 SUBSEP $5
        if (!($3 in seen)) { seen[$3] = 1; figures[++nf] = $3; unit[$3] = $4 }
        if ($6 + 0 > rounds) rounds = $6 + 0
        if ($7 == "nan") nans[key]++; else { values[key] = values[key] " " $7; at[$3, $5, $6 + 0] = $7 }
    }
    END {
        split("lguest-aot lguest-jit qemu-pc qemu-microvm", cols, " ")
        printf "%-42s %-5s", "figure: median [min-max] /nans", "unit"
        for (c = 1; c <= 4; c++) printf " %-24s", cols[c]
        printf " aot/pc aot/mvm jit/pc jit/mvm\n"
        for (f = 1; f <= nf; f++) {
            fig = figures[f]
            printf "%-42s %-5s", fig, unit[fig]
            for (c = 1; c <= 4; c++) {
                key = fig SUBSEP cols[c]
                med[c] = median(values[key])
                cell = med[c] == "nan" ? "nan" : sprintf("%.3g [%.3g-%.3g]", med[c], extreme(values[key], "min"), extreme(values[key], "max"))
                if (nans[key]) cell = cell " /" nans[key]
                printf " %-24s", cell
            }
            printf " %s  %s  %s  %s\n", ratio(fig, cols[1], cols[3]), ratio(fig, cols[1], cols[4]), ratio(fig, cols[2], cols[3]), ratio(fig, cols[2], cols[4])
        }
        # The system-call filter cost (issue 21), when the run had the unfiltered column: the speed of lguest-aot
        # with its default filter over the same binary with --seccomp=off (1 = free; the goal is >= 0.97).
        filtered = 0
        for (f = 1; f <= nf; f++) if ((figures[f] SUBSEP "lguest-aot-seccomp-off") in values) filtered = 1
        if (!filtered) exit
        printf "\n%-42s %-5s %-24s %-24s %s\n", "seccomp filter: median [min-max] /nans", "unit", "lguest-aot (filter on)", "lguest-aot-seccomp-off", "on/off speed"
        for (f = 1; f <= nf; f++) {
            fig = figures[f]
            printf "%-42s %-5s", fig, unit[fig]
            split("lguest-aot lguest-aot-seccomp-off", pair, " ")
            for (c = 1; c <= 2; c++) {
                key = fig SUBSEP pair[c]
                m = median(values[key])
                cell = m == "nan" ? "nan" : sprintf("%.3g [%.3g-%.3g]", m, extreme(values[key], "min"), extreme(values[key], "max"))
                if (nans[key]) cell = cell " /" nans[key]
                printf " %-24s", cell
            }
            # A speed ratio either way: MB/s on over off, seconds off over on.
            printf " %s\n", unit[fig] == "s" ? ratio(fig, pair[2], pair[1]) : ratio(fig, pair[1], pair[2])
        }
    }'
