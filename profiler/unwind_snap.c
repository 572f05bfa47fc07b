/* unwind_snap — DWARF CFI unwinding of copied stacks. See unwind_snap.h. */
#include "profiler/unwind_snap.h"
#include "profiler/unwind.h"
#include "profiler/symfind.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SNAP_CACHE 16384	/* cached rows, a power of two */
#define REG_RSP 7		/* DWARF register numbers, x86-64 psABI */
#define REG_RBP 6
#define REG_RA 16
#define MAX_UNKNOWN 64		/* frame-pointer steps in a row through code in no object */

/*
 * How to find a frame's caller at one pc. FP: an object without CFI for it, stepped by its
 * frame pointer; JIT: in no object at all, stepped by its frame pointer only while that
 * leads inside the copy.
 */
enum cfa_base { CFA_NONE, CFA_RSP, CFA_RBP, CFA_FP, CFA_JIT };
enum saved { SAVED_SAME, SAVED_AT, SAVED_UNDEF };

struct row {
	uint64_t pc;		/* the looked-up address; 0 = empty */
	int32_t cfa_off, bp_off, ra_off;	/* bp_off, ra_off: from the CFA, when SAVED_AT */
	uint8_t base, bp, ra;
};

struct snapuw {
	Dwfl *dwfl;
	pid_t pid;		/* 0: this process */
	unsigned gen;		/* unwind_modules_generation() at the last report */
	uint64_t reported_ns;	/* another process: when its maps were last read, */
	uint64_t checked_ns;	/* when its executable was last compared, */
	dev_t exe_dev;		/* and which file that was (an exec changes it) */
	ino_t exe_ino;
	struct row cache[SNAP_CACHE];
	struct snapuw_stats st;
};

static char *debuginfo_path;
static const Dwfl_Callbacks callbacks = {
	.find_elf = sym_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The file process pid runs (its /proc/PID/exe); unchanged when it cannot be read. */
static void exe_of(pid_t pid, dev_t *dev, ino_t *ino)
{
	char exe[64];
	struct stat st;

	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	if (stat(exe, &st) == 0) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
}

static int report(struct snapuw *u)
{
	int rc;

	u->gen = unwind_modules_generation();
	memset(u->cache, 0, sizeof(u->cache));	/* rows of the objects of before */
	if (u->dwfl)
		dwfl_end(u->dwfl);
	u->dwfl = dwfl_begin(&callbacks);
	if (!u->dwfl)
		return -ENOMEM;
	u->reported_ns = u->checked_ns = now_ns();
	if (u->pid)
		exe_of(u->pid, &u->exe_dev, &u->exe_ino);
	sym_find_elf_target(u->pid);
	rc = dwfl_linux_proc_report(u->dwfl, u->pid ? u->pid : getpid());
	if (rc)
		return rc > 0 ? -rc : -ESRCH;
	if (dwfl_report_end(u->dwfl, NULL, NULL))
		return -EINVAL;
	u->st.reloads++;
	return 0;
}

int snapuw_new(struct snapuw **out)
{
	return snapuw_new_pid(0, out);
}

int snapuw_new_pid(pid_t pid, struct snapuw **out)
{
	struct snapuw *u = calloc(1, sizeof(*u));
	int rc;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	u->pid = pid == getpid() ? 0 : pid;
	unwind_block_debuginfod(true);	/* a .debug_frame lookup must not go to the network */
	rc = report(u);
	if (rc) {
		snapuw_free(u);
		return rc;
	}
	*out = u;
	return 0;
}

void snapuw_free(struct snapuw *u)
{
	if (!u)
		return;
	if (u->dwfl)
		dwfl_end(u->dwfl);
	unwind_block_debuginfod(false);
	free(u);
}

void snapuw_get_stats(const struct snapuw *u, struct snapuw_stats *st)
{
	*st = u->st;
}

/* A register's rule: "CFA + off" (the common forms libdw gives), same value, or other. */
static enum saved reg_rule(Dwarf_Frame *fr, int regno, int32_t *off)
{
	Dwarf_Op mem[3], *ops;
	size_t n;

	*off = 0;
	if (dwarf_frame_register(fr, regno, mem, &ops, &n) < 0)
		return SAVED_UNDEF;
	if (n == 0)
		return ops ? SAVED_UNDEF : SAVED_SAME;
	if (ops[0].atom != DW_OP_call_frame_cfa)
		return SAVED_UNDEF;
	if (n == 1)
		return SAVED_AT;
	if (n == 2 && ops[1].atom == DW_OP_plus_uconst) {
		*off = (int32_t)ops[1].number;
		return SAVED_AT;
	}
	if (n == 3 && ops[1].atom == DW_OP_consts && ops[2].atom == DW_OP_plus) {
		*off = (int32_t)(int64_t)ops[1].number;
		return SAVED_AT;
	}
	return SAVED_UNDEF;
}

/*
 * A CFA expression over the registers %rsp, %rbp and %rip (no memory reads), as the linker
 * writes for PLT stubs: %rsp + 8 + ((%rip & 15) >= 11) << 3. false for any other operation.
 */
static bool eval_cfa(const Dwarf_Op *ops, size_t n, uint64_t rsp, uint64_t rbp, uint64_t rip,
		     uint64_t *out)
{
	uint64_t st[16], a, b;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned op = ops[i].atom;
		uint64_t reg = ~0ull;

		if (op >= DW_OP_breg0 && op <= DW_OP_breg31)
			reg = op - DW_OP_breg0;
		else if (op == DW_OP_bregx)
			reg = ops[i].number;
		if (reg != ~0ull) {
			uint64_t off = op == DW_OP_bregx ? ops[i].number2 : ops[i].number;

			if (k == 16 || (reg != REG_RSP && reg != REG_RBP && reg != REG_RA))
				return false;
			st[k++] = (reg == REG_RSP ? rsp : reg == REG_RBP ? rbp : rip) + off;
			continue;
		}
		if ((op >= DW_OP_lit0 && op <= DW_OP_lit31) || op == DW_OP_const1u ||
		    op == DW_OP_const1s || op == DW_OP_const2u || op == DW_OP_const2s ||
		    op == DW_OP_const4u || op == DW_OP_const4s || op == DW_OP_const8u ||
		    op == DW_OP_const8s || op == DW_OP_constu || op == DW_OP_consts) {
			if (k == 16)
				return false;
			st[k++] = op <= DW_OP_lit31 && op >= DW_OP_lit0 ? op - DW_OP_lit0 :
									  ops[i].number;
			continue;
		}
		if (op == DW_OP_plus_uconst) {
			if (!k)
				return false;
			st[k - 1] += ops[i].number;
			continue;
		}
		if (k < 2)
			return false;
		b = st[--k];
		a = st[k - 1];
		switch (op) {
		case DW_OP_plus: a += b; break;
		case DW_OP_minus: a -= b; break;
		case DW_OP_mul: a *= b; break;
		case DW_OP_and: a &= b; break;
		case DW_OP_or: a |= b; break;
		case DW_OP_shl: a = b < 64 ? a << b : 0; break;
		case DW_OP_shr: a = b < 64 ? a >> b : 0; break;
		case DW_OP_ge: a = (int64_t)a >= (int64_t)b; break;
		case DW_OP_gt: a = (int64_t)a > (int64_t)b; break;
		case DW_OP_le: a = (int64_t)a <= (int64_t)b; break;
		case DW_OP_lt: a = (int64_t)a < (int64_t)b; break;
		case DW_OP_eq: a = a == b; break;
		case DW_OP_ne: a = a != b; break;
		default: return false;
		}
		st[k - 1] = a;
	}
	if (k != 1)
		return false;
	*out = st[0];
	return true;
}

/*
 * The CFA when it comes to "register + constant" at this pc (the rows are per pc): one
 * DW_OP_breg, or an expression that, evaluated with each base register moved, moves by the
 * same amount.
 */
static void cfa_expr(struct row *r, const Dwarf_Op *ops, size_t n)
{
	const uint64_t d = 1ull << 32;
	uint64_t v0, vsp, vbp;

	if (!eval_cfa(ops, n, 0, 0, r->pc, &v0) || !eval_cfa(ops, n, d, 0, r->pc, &vsp) ||
	    !eval_cfa(ops, n, 0, d, r->pc, &vbp) || (int64_t)v0 != (int32_t)v0)
		return;
	if (vsp - v0 == d && vbp == v0)
		r->base = CFA_RSP;
	else if (vbp - v0 == d && vsp == v0)
		r->base = CFA_RBP;
	else
		return;
	r->cfa_off = (int32_t)v0;
}

/* The row for pc from the CFI of its object (CFA_JIT in none). */
static void lookup(struct snapuw *u, uint64_t pc, struct row *r)
{
	Dwfl_Module *m = u->dwfl ? dwfl_addrmodule(u->dwfl, pc) : NULL;	/* NULL: report failed */
	Dwarf_CFI *cfi = NULL;
	Dwarf_Frame *fr = NULL;
	Dwarf_Addr bias = 0;
	Dwarf_Op *ops;
	size_t n;

	u->st.cfi_lookups++;
	memset(r, 0, sizeof(*r));
	r->pc = pc;
	r->base = m ? CFA_FP : CFA_JIT;
	if (!m)
		return;
	cfi = dwfl_module_eh_cfi(m, &bias);
	if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &fr) != 0) {
		fr = NULL;
		cfi = dwfl_module_dwarf_cfi(m, &bias);
		if (cfi && dwarf_cfi_addrframe(cfi, pc - bias, &fr) != 0)
			fr = NULL;
	}
	if (!fr)
		return;
	r->base = CFA_NONE;
	/* "%rsp or %rbp + offset", or an expression that comes to it at this pc (PLT stubs) */
	if (dwarf_frame_cfa(fr, &ops, &n) == 0 && n)
		cfa_expr(r, ops, n);
	r->bp = (uint8_t)reg_rule(fr, REG_RBP, &r->bp_off);
	r->ra = (uint8_t)reg_rule(fr, REG_RA, &r->ra_off);
	free(fr);
}

/* Another process loads objects unannounced: a pc in none reads its maps again (at most
 * every REREPORT_NS), in case it is in an object loaded since. */
#define REREPORT_NS 100000000ull

static const struct row *row_for(struct snapuw *u, uint64_t pc)
{
	struct row *r = &u->cache[(pc ^ (pc >> 14)) & (SNAP_CACHE - 1)];

	if (r->pc != pc) {
		lookup(u, pc, r);
		if (r->base == CFA_JIT && u->pid && now_ns() - u->reported_ns > REREPORT_NS &&
		    report(u) == 0)
			lookup(u, pc, r);
	}
	return r;
}

/* The word at addr, if the copy holds it. */
static bool word(const struct snap *s, uint64_t addr, uint64_t *v)
{
	if (addr < s->sp || addr - s->sp > s->len || s->len - (addr - s->sp) < 8)
		return false;
	memcpy(v, s->stack + (addr - s->sp), 8);
	return true;
}

/*
 * Another process: an exec replaces every object (a command we start is profiled from its
 * fork, before it execs), so its executable is compared every EXEC_CHECK_NS and the maps
 * read again when it changed.
 */
#define EXEC_CHECK_NS 10000000ull

static void check_exec(struct snapuw *u)
{
	dev_t dev = u->exe_dev;
	ino_t ino = u->exe_ino;

	u->checked_ns = now_ns();
	exe_of(u->pid, &dev, &ino);
	if (dev != u->exe_dev || ino != u->exe_ino)
		report(u);
}

int snapuw_unwind(struct snapuw *u, const struct snap *s, uint64_t *pcs, int max)
{
	uint64_t sp = s->sp, bp = s->bp, look = s->ip;
	int n = 0, unknown = 0;

	if (max <= 0)
		return 0;
	sym_find_elf_target(u->pid);	/* the rows' lookups may open files */
	/* objects loaded or unloaded since the last report: the rows may be stale */
	if (!u->pid && u->gen != unwind_modules_generation())
		report(u);
	else if (u->pid && now_ns() - u->checked_ns > EXEC_CHECK_NS)
		check_exec(u);
	u->st.walks++;
	pcs[n++] = s->ip;
	while (n < max) {
		const struct row *r = row_for(u, look);
		bool jit = r->base == CFA_JIT;
		uint64_t cfa, ra, nbp = bp;

		/*
		 * In no object: JIT code (V8 and HotSpot keep frame pointers), or garbage. Its
		 * frame pointer must lead to a frame inside the copy, above this one; anything
		 * else ends the walk without calling it cut.
		 */
		unknown = jit ? unknown + 1 : 0;
		if (jit && (unknown > MAX_UNKNOWN || bp < sp || (bp & 7)))
			break;
		switch (r->base) {
		case CFA_RSP:
			cfa = sp + (uint64_t)(int64_t)r->cfa_off;
			break;
		case CFA_RBP:
			cfa = bp + (uint64_t)(int64_t)r->cfa_off;
			break;
		case CFA_FP:
		case CFA_JIT:
			u->st.fp_steps++;
			cfa = bp + 16;
			break;
		default:
			goto out;	/* a CFA expression reading memory (realigned stack) */
		}
		if (r->base == CFA_FP || jit) {
			if (!word(s, bp, &nbp) || !word(s, bp + 8, &ra)) {
				if (jit)
					break;
				goto truncated;
			}
		} else {
			if (r->ra == SAVED_UNDEF)
				break;	/* the outermost frame */
			if (!word(s, cfa + (uint64_t)(int64_t)(r->ra == SAVED_AT ? r->ra_off : -8),
				  &ra))
				goto truncated;
			/* a slot below %rsp was popped already (GCC's CFI after `leave` still
			 * names it): the register holds the caller's value */
			if (r->bp == SAVED_AT && cfa + (uint64_t)(int64_t)r->bp_off >= sp &&
			    !word(s, cfa + (uint64_t)(int64_t)r->bp_off, &nbp))
				goto truncated;
			if (r->bp == SAVED_UNDEF)
				nbp = 0;
		}
		if (!ra || cfa <= sp)
			break;
		pcs[n++] = ra;
		look = ra - 1;	/* inside the call instruction: its row, not the next one's */
		sp = cfa;
		bp = nbp;
	}
out:
	return n;
truncated:
	u->st.truncated++;
	return n;
}
