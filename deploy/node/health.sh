# shellcheck shell=bash
#
# health.sh — the verb `health` (sourced by berth-node): load, memory, disk of srv/, services
# and site count, for the health probes. It takes no lock, so a busy node still answers.

cmd_health() {
    local l1 l5 rest cpus mt ma dt df sites=0 f
    read -r l1 l5 rest </proc/loadavg
    cpus=$(nproc)
    mt=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
    ma=$(awk '/^MemAvailable:/ { printf "%d", $2 / 1024 }' /proc/meminfo)
    dt=$(total_mb_of "$SITES")
    df=$(free_mb_of "$SITES")
    for f in "$RECORDS"/*.conf; do
        if [[ -f $f ]]; then sites=$((sites + 1)); fi
    done
    reply str version "$BERTH_NODE_VERSION" num load1 "$l1" num load5 "$l5" num cpus "$cpus" \
        num memory_total_mb "$mt" num memory_available_mb "$ma" num disk_total_mb "$dt" \
        num disk_free_mb "$df" json services "$(services_json)" num sites "$sites"
}
