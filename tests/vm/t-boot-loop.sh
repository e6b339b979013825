#!/bin/bash
# diagnostic: boot the nested KVM guest VM_BOOT_LOOP times (default 10) with
# a small transfer, and count the boots that die. Not in 'make check': it
# measures the test VM's nested virtualization, not usvhost (make
# check-vm-boot-loop; docs/testing-vm.md). Knobs:
#   VM_BOOT_LOOP_BACKEND=kernel|usvhost  the kernel's vhost_net (default) or
#                                usvhostd on its CUSE /dev/vhost-net
#   VM_BOOT_LOOP_GUESTS=1|2      guests booted at once (2: as vm-multi)
#   VM_BOOT_LOOP_NOREBOOT=0      no -no-reboot: a triple fault resets the vCPU,
#                                QEMU logs the registers at the fault, the
#                                loop kills that QEMU and prints them
#   VM_BOOT_LOOP_NOKASLR=1       'nokaslr' on the guest's command line, so a
#                                kernel RIP maps to a symbol
#   VM_BOOT_LOOP_NPT=0|1          reload the VM's kvm_amd with npt=N (0: the
#                                VM's KVM shadows the guests' page tables
#                                instead of using TCG's emulated nested paging)
#   VM_BOOT_LOOP_KVMTRACE=0      no KVM tracepoints in the VM (default on:
#                                with 6.1's kvm_amd a guest's shutdown INITs
#                                its vCPU before QEMU sees it, so QEMU's dump
#                                holds reset values; the kvm_exit events keep
#                                the guest's last exits and its RIP)
#   VM_BOOT_LOOP_CHURN=1, VM_BOOT_LOOP_MIGRATE=1  see below
set -eu
: "${VM_BLOB_BYTES:=65536}"
. "$top_srcdir/tests/vm/vm-lib.sh" boot-loop

n=${VM_BOOT_LOOP:-10}
backend=${VM_BOOT_LOOP_BACKEND:-kernel}
guests=${VM_BOOT_LOOP_GUESTS:-1}
export VM_NESTED_NOREBOOT=${VM_BOOT_LOOP_NOREBOOT:-1}
if [ "${VM_BOOT_LOOP_NOKASLR:-0}" = 1 ]; then
	export VM_NESTED_APPEND="${VM_NESTED_APPEND:+$VM_NESTED_APPEND }nokaslr"
fi
case $backend in kernel | usvhost) ;; *) e2e_die "VM_BOOT_LOOP_BACKEND: kernel or usvhost" ;; esac
case $guests in 1 | 2) ;; *) e2e_die "VM_BOOT_LOOP_GUESTS: 1 or 2" ;; esac
e2e_log "config: boots=$n backend=$backend guests-at-once=$guests -no-reboot=$VM_NESTED_NOREBOOT append='${VM_NESTED_APPEND:-}' churn=${VM_BOOT_LOOP_CHURN:-0} migrate=${VM_BOOT_LOOP_MIGRATE:-0}"

vm_require_kvm
if [ -n "${VM_BOOT_LOOP_NPT:-}" ] && vm_module_loaded kvm_amd; then
	vm_rmmod kvm_amd || e2e_die "cannot unload kvm_amd"
	kamd=$(grep -E '(^|/)kvm[-_]amd\.ko(\.[a-z]+)?:' "$VM_KMOD/modules.dep" | head -n 1)
	busybox insmod "$VM_KMOD/${kamd%%:*}" npt="$VM_BOOT_LOOP_NPT" || e2e_die "insmod kvm_amd npt=$VM_BOOT_LOOP_NPT failed"
	vm_require_kvm
fi
e2e_log "the VM's CPU: $(grep -m1 -ow la57 /proc/cpuinfo || echo 'no la57') (5-level paging, so 5-level nested page tables, when la57)"
e2e_log "kvm_amd: npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null || echo '?') nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null || echo '?')"
vm_modprobe tun || e2e_die "cannot load tun"
if [ "$backend" = usvhost ]; then
	vm_modprobe cuse || e2e_die "cannot load cuse"
	vm_kernel_vhost off
	vm_daemon_start loop vhost-net
else
	vm_kernel_vhost on
fi
vm_tap vtap0 10.0.81.1/24
[ "$guests" = 1 ] || vm_tap vtap1 10.0.82.1/24

# The guest runs this very kernel: /proc/kallsyms here, shifted by this
# kernel's own KASLR offset, gives the unrandomized addresses (Debian's
# System.map is a stub pointing at the -dbg package).
KSYMS=$VM_WORK/kallsyms
KTEXT_NOMINAL=0x81000000
ktext=$(awk '$3 == "_text" { print $1; exit }' /proc/kallsyms 2>/dev/null || true)
if [ -n "$ktext" ] && [ "$ktext" != 0000000000000000 ]; then
	# Kernel text is in ffffffff8xxxxxxx: only the low 32 bits vary.
	kshift=$((16#${ktext:8} - KTEXT_NOMINAL))
	awk -v shift="$kshift" '
	function hex(s,   i, v) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
	substr($1, 1, 8) == "ffffffff" && $2 ~ /^[tTwW]$/ && NF == 3 { printf "%.0f %s\n", hex(substr($1, 9)) - shift, $3 }' \
		/proc/kallsyms | sort -n -k1,1 >"$KSYMS"
	cp "$KSYMS" "$VM_OUT/kallsyms-unrandomized.txt"
	e2e_log "symbols: $(wc -l <"$KSYMS") text symbols from /proc/kallsyms (this kernel's _text at $ktext)"
else
	: >"$KSYMS"
	e2e_log "symbols: /proc/kallsyms hides addresses: RIPs stay raw"
fi

# The VM's KVM tracepoints: the nested guests' exits (reason, RIP), the
# exceptions KVM injects, and QEMU's exits to userspace, in a small ring.
KTRACE=""
if [ "${VM_BOOT_LOOP_KVMTRACE:-1}" = 1 ]; then
	KTRACE=/sys/kernel/tracing
	[ -e $KTRACE/trace ] || mount -t tracefs nodev $KTRACE 2>/dev/null || true
	if [ -w $KTRACE/trace ] && [ -d $KTRACE/events/kvm/kvm_exit ]; then
		echo 0 >$KTRACE/tracing_on
		echo 1024 >$KTRACE/buffer_size_kb
		# Not the frequent exits (port I/O, interrupts, MSRs), so that
		# the ring keeps the seconds before a death.
		echo 'exit_reason != 0x7b && exit_reason != 0x60 && exit_reason != 0x64 && exit_reason != 0x7c' \
			>$KTRACE/events/kvm/kvm_exit/filter || e2e_log "kvm_exit: filter refused"
		echo 'reason != 2' >$KTRACE/events/kvm/kvm_userspace_exit/filter || e2e_log "kvm_userspace_exit: filter refused"
		for e in kvm_exit kvm_inj_exception kvm_userspace_exit; do
			echo 1 >$KTRACE/events/kvm/$e/enable
		done
		echo 1 >$KTRACE/tracing_on
		e2e_log "KVM tracepoints on (kvm_exit but port I/O, interrupts, MSRs; kvm_inj_exception; kvm_userspace_exit but port I/O)"
	else
		e2e_log "no tracefs or no kvm events: KVM tracepoints off"
		KTRACE=""
	fi
fi

# A dead guest's last exits, from the trace: the vCPU thread whose exit
# reason was shutdown, or QEMU's KVM_EXIT_SHUTDOWN.
loop_ktrace() { # TAG
	local f=$VM_OUT/kvmtrace-$1.txt tid line rip
	[ -n "$KTRACE" ] || return 0
	echo 0 >$KTRACE/tracing_on
	cat $KTRACE/trace >"$f"
	echo 1 >$KTRACE/tracing_on
	line=$(grep -m1 -E 'kvm_exit: .*reason (shutdown|SHUTDOWN|0x7f)' "$f" || true)
	if [ -z "$line" ]; then
		e2e_log "guest $1: no shutdown exit in the KVM trace (${f##*/}); its last userspace exits:"
		grep -E 'kvm_userspace_exit' "$f" | tail -n 5 | sed "s/^/[$E2E_NAME]   /"
		return 0
	fi
	# "CPU 0/KVM-1234   [001] ...": the thread's name may hold spaces.
	tid=$(sed -n 's/^.*-\([0-9][0-9]*\) *\[[0-9]*\].*/\1/p' <<<"$line")
	e2e_log "guest $1: the KVM trace (${f##*/}), thread $tid's last events:"
	grep -E -- "-$tid +\[" "$f" | grep -B 25 -A 2 -m1 -E 'reason (shutdown|SHUTDOWN|0x7f)' | sed "s/^/[$E2E_NAME]   /"
	rip=$(grep -o 'rip 0x[0-9a-f]*' <<<"$line" | head -n 1)
	rip=${rip#rip 0x}
	[ -z "$rip" ] || e2e_log "guest $1: shutdown at RIP $rip: $(loop_sym "$(printf '%016x' "$((16#$rip))")")"
}

# A hung guest's QEMU: the last KVM events of its threads.
loop_ktrace_hung() { # TAG
	local f=$VM_OUT/kvmtrace-$1.txt pid=${VM_GUEST_PID[$1]} tids
	[ -n "$KTRACE" ] || return 0
	echo 0 >$KTRACE/tracing_on
	cat $KTRACE/trace >"$f"
	echo 1 >$KTRACE/tracing_on
	tids=$(ls "/proc/$pid/task" 2>/dev/null | paste -sd '|')
	e2e_log "guest $1: its QEMU's last KVM events (${f##*/}):"
	grep -E -- "-($tids) +\[" "$f" | tail -n 12 | sed "s/^/[$E2E_NAME]   /"
}

# RIP -> symbol+offset of the unrandomized kernel. With KASLR the guest's
# offset is unknown but a multiple of 2 MiB: list the candidates.
loop_sym() { # RIP(hex, 16 digits)
	local rip=$1 low
	[ -s "$KSYMS" ] || { echo "no symbols"; return; }
	case $rip in
	ffffffff[c-f]*) echo "the module area (a module of the guest's)"; return ;;
	ffffffff*) ;;
	*) echo "not kernel text"; return ;;
	esac
	low=$((16#${rip:8}))
	awk -v rip="$low" -v exact="${VM_BOOT_LOOP_NOKASLR:-0}" '
	{ a[NR] = $1; s[NR] = $2; if ($2 == "_etext") etext = $1 }
	function at(x,   lo, hi, mid) {
		if (x < a[1] || x > a[NR]) return ""
		lo = 1; hi = NR
		while (lo < hi) { mid = int((lo + hi + 1) / 2); if (a[mid] <= x) lo = mid; else hi = mid - 1 }
		return sprintf("%s+0x%x", s[lo], x - a[lo])
	}
	END {
		if (exact == 1) { print at(rip) " (nokaslr)"; exit }
		out = ""
		for (x = a[1] + ((rip - a[1]) % 2097152 + 2097152) % 2097152; x < (etext ? etext : a[NR]); x += 2097152) {
			c = at(x); if (c != "") out = out (out == "" ? "" : ", ") c
		}
		print "KASLR: one of " out
	}' "$KSYMS"
}

# The registers QEMU logged at the first reset past the power-on ones.
loop_dump() { # TAG POWER-ON-RESETS
	local trace=$VM_OUT/guest-$1.trace block rip
	block=$(awk -v skip="$2" '/^CPU Reset/ { n++; if (n > skip + 1) exit } n > skip && !/^(FPR|XMM|YMM|ZMM|FCW|Opmask)/' "$trace")
	sed "s/^/[$E2E_NAME]   /" <<<"$block"
	rip=$(grep -o 'RIP=[0-9a-f]*' <<<"$block" | head -n 1)
	rip=${rip#RIP=}
	if [ -n "$rip" ]; then
		e2e_log "guest $1: RIP $rip: $(loop_sym "$rip")"
	else
		e2e_log "guest $1: no RIP in the dump"
	fi
}

# Wait for this boot's guests; a guest whose QEMU logged more CPU resets
# than its power-on ones (2 per vCPU) has reset itself: show the registers
# and kill it. Sets died_now and the RC/RESET arrays.
declare -A RESET=()
loop_wait() { # SECS TAG...
	local secs=$1 deadline=$((SECONDS + $1)) tag pid c left
	shift
	for tag; do RESET[$tag]=0; done
	while :; do
		left=0
		for tag; do
			pid=${VM_GUEST_PID[$tag]}
			[ -d "/proc/$pid" ] || continue
			left=1
			c=$(grep -c '^CPU Reset' "$VM_OUT/guest-$tag.trace" 2>/dev/null || true)
			if [ "${c:-0}" -gt 2 ] && [ "${RESET[$tag]}" = 0 ]; then
				RESET[$tag]=1
				# Frozen once its log has the dump, so that it does not
				# boot again meanwhile.
				sleep 0.3
				kill -STOP "$pid" 2>/dev/null || true
				e2e_log "guest $tag: reset itself after $((SECONDS - t0)) s ($c CPU resets logged): registers at the reset:"
				loop_dump "$tag" 2
				loop_ktrace "$tag"
				kill -KILL "$pid" 2>/dev/null || true
			fi
		done
		[ "$left" = 1 ] || break
		if [ "$SECONDS" -ge "$deadline" ]; then
			for tag; do
				pid=${VM_GUEST_PID[$tag]}
				[ -d "/proc/$pid" ] || continue
				e2e_log "guest $tag: still running after $secs s: killing QEMU (hung: $(grep -c '^CPU Reset' "$VM_OUT/guest-$tag.trace" 2>/dev/null) CPU resets, console $(wc -c <"$VM_OUT/guest-$tag.console") bytes)"
				loop_ktrace_hung "$tag"
				kill -KILL "$pid" 2>/dev/null || true
			done
			deadline=$((SECONDS + 10))
		fi
		sleep 0.25
	done
	for tag; do
		vm_wait_pid "${VM_GUEST_PID[$tag]}" 10 || true
		e2e_log "guest $tag: QEMU exited $VM_WAIT_RC; CPU resets logged: $(grep -c '^CPU Reset' "$VM_OUT/guest-$tag.trace" 2>/dev/null)"
	done
}

died=0
boots=0
# VM_BOOT_LOOP_CHURN=1: compact the VM's memory all along, so its KVM keeps
# zapping and rebuilding the nested guest's page tables.
churn=""
if [ "${VM_BOOT_LOOP_CHURN:-0}" = 1 ]; then
	( while :; do echo 1 >/proc/sys/vm/compact_memory; echo 3 >/proc/sys/vm/drop_caches; sleep 0.2; done ) &
	churn=$!
	VM_BG_PIDS+=("$churn")
	e2e_log "memory churn running (pid $churn)"
fi
[ "$backend" != usvhost ] || vm_stats_sampler_start
for i in $(seq 1 "$n"); do
	t0=$SECONDS
	[ -z "$KTRACE" ] || : >$KTRACE/trace
	tags=(b$i)
	vm_guest_start b$i vtap0 10.0.81.2/24 10.0.81.1 --rx=$((6000 + 2 * i)) --tx=$((7000 + 2 * i))
	if [ "$guests" = 2 ]; then
		tags+=(c$i)
		vm_guest_start c$i vtap1 10.0.82.2/24 10.0.82.1 --rx=$((8000 + 2 * i)) --tx=$((9000 + 2 * i))
	fi
	# VM_BOOT_LOOP_MIGRATE=1: move the guest's QEMU threads between the
	# VM's CPUs every 20 ms.
	mig=""
	if [ "${VM_BOOT_LOOP_MIGRATE:-0}" = 1 ]; then
		( pid=${VM_GUEST_PID[b$i]}; c=0
		  while [ -d /proc/$pid ]; do
			for t in /proc/$pid/task/*; do taskset -p -c $c "${t##*/}" >/dev/null 2>&1; done
			c=$((1 - c)); sleep 0.02
		  done ) &
		mig=$!
	fi
	loop_wait 120 "${tags[@]}"
	if [ -n "$mig" ]; then kill "$mig" 2>/dev/null || true; wait "$mig" 2>/dev/null || true; fi
	for tag in "${tags[@]}"; do
		boots=$((boots + 1))
		if [ "${RESET[$tag]}" = 0 ] && vm_console "$tag" | grep -q '^USVHOST_GUEST_EXIT=0'; then
			e2e_log "boot $i guest $tag: ok ($((SECONDS - t0)) s)"
		else
			died=$((died + 1))
			e2e_log "boot $i guest $tag: DIED ($((SECONDS - t0)) s; reset itself: ${RESET[$tag]}; vhost_dev_start traced: $(grep -c '^vhost_dev_start' "$VM_OUT/guest-$tag.trace" 2>/dev/null)); console tail:"
			vm_console "$tag" | tail -n 15 | sed "s/^/[$E2E_NAME]   /"
			[ "${RESET[$tag]}" = 1 ] || loop_ktrace "$tag"
		fi
	done
done
e2e_log "nested boots: $boots, died: $died"
[ "$died" = 0 ] && e2e_pass "all $boots nested boots finished" || e2e_fail "$died of $boots nested boots died"
if [ "$backend" = usvhost ]; then
	vm_stats_sampler_stop
	vm_daemon_stop
else
	vm_kernel_vhost off
fi
e2e_finish
