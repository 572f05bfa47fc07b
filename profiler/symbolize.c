/* symbolize — addresses to functions, files and lines with elfutils. See symbolize.h. */
#include "profiler/symbolize.h"
#include "profiler/symfind.h"
#include "common/u64map.h"
#include "profiler/symscope.h"
#include "profiler/unwind.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

struct symbolizer {
	Dwfl *dwfl;
	struct sym_map *maps;
	size_t nmaps, cap;
	struct u64map units;	/* (debug info, unit offset) hash -> struct unit */
	bool units_made;
	bool no_index;		/* sym_set_indexed(s, false) */
	uint64_t n_indexed, n_walked;
	pid_t pid;		/* the live process (sym_new), 0 offline */
	struct perfmap_ent *pm;	/* its /tmp/perf-PID.map, sorted; loaded on first need */
	size_t npm;
	bool pm_loaded;
};

/* A JIT's symbol (node --perf-basic-prof, the JVM's perf map, python -X perf, ...). */
struct perfmap_ent {
	uint64_t start, end;
	size_t seq;		/* line number: a later line wins where code was replaced */
	char *name;
};

/* A compile unit's scope index (profiler/symscope.h), built on its first address. */
struct unit {
	Dwarf *dbg;
	Dwarf_Off off;
	struct cu_scopes sc;
};

static char *debuginfo_path;
static const Dwfl_Callbacks proc_callbacks = {
	.find_elf = sym_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

static void build_id_hex(Dwfl *dwfl, uint64_t addr, char *out, size_t outlen)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
	const unsigned char *bits;
	GElf_Addr vaddr, bias;
	int n;

	out[0] = 0;
	if (!mod)
		return;
	dwfl_module_getelf(mod, &bias);	/* the build ID is known once the ELF is found */
	n = dwfl_module_build_id(mod, &bits, &vaddr);
	for (int i = 0; i < n && (size_t)(2 * i + 2) < outlen; i++)
		snprintf(out + 2 * i, 3, "%02x", bits[i]);
}

static int add_map(struct symbolizer *s, uint64_t lo, uint64_t hi, uint64_t off, const char *path)
{
	struct sym_map *m;
	char *p;

	if (s->nmaps == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 32;
		struct sym_map *nm = realloc(s->maps, cap * sizeof(*nm));

		if (!nm)
			return -ENOMEM;
		s->maps = nm;
		s->cap = cap;
	}
	p = strdup(path);
	if (!p)
		return -ENOMEM;
	m = &s->maps[s->nmaps++];
	*m = (struct sym_map){ lo, hi, off, p, NULL };
	return 0;
}

/* Once the modules are reported: the build ID of every mapping. */
static int fill_build_ids(struct symbolizer *s)
{
	char bid[129];

	for (size_t i = 0; i < s->nmaps; i++) {
		build_id_hex(s->dwfl, s->maps[i].start, bid, sizeof(bid));
		s->maps[i].build_id = strdup(bid);
		if (!s->maps[i].build_id)
			return -ENOMEM;
	}
	return 0;
}

static int parse_maps(struct symbolizer *s, FILE *fp)
{
	char line[4096 + 128], perms[8], file[4096];
	unsigned long long lo, hi, off;
	int rc = 0;

	while (fgets(line, sizeof(line), fp)) {
		file[0] = 0;
		if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %4095[^\n]", &lo, &hi, perms, &off,
			   file) < 4)
			continue;
		if (perms[2] != 'x' || !file[0])
			continue;
		rc = add_map(s, lo, hi, off, file);
		if (rc)
			break;
	}
	return rc;
}

static int read_maps(struct symbolizer *s, pid_t pid)
{
	char path[64];
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	fp = fopen(path, "re");
	if (!fp)
		return errno == ENOENT ? -ESRCH : -errno;
	rc = parse_maps(s, fp);
	fclose(fp);
	return rc;
}

int sym_new(pid_t pid, struct symbolizer **out)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	unwind_block_debuginfod(true);
	if (!pid)
		pid = getpid();
	s->pid = pid;
	s->dwfl = dwfl_begin(&proc_callbacks);
	if (!s->dwfl) {
		sym_free(s);
		return -ENOMEM;
	}
	sym_find_elf_target(pid);
	rc = dwfl_linux_proc_report(s->dwfl, pid);
	if (rc) {
		rc = rc > 0 ? -rc : -ESRCH;
		goto err;
	}
	if (dwfl_report_end(s->dwfl, NULL, NULL)) {
		rc = -EINVAL;
		goto err;
	}
	rc = read_maps(s, pid);
	if (!rc)
		rc = fill_build_ids(s);
	if (rc)
		goto err;
	*out = s;
	return 0;
err:
	sym_free(s);
	return rc;
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

/* Load bias of the object mapped at lo from file offset off. */
static int object_bias(const char *path, uint64_t lo, uint64_t off, uint64_t *bias)
{
	/* The path comes from a profile's maps text: a FIFO or a device named there must not
	 * block or be read, so open without waiting and take regular files only. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY), rc = -ENOENT;
	struct stat st;
	Elf *elf;
	GElf_Ehdr eh;
	size_t n;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -ENOENT;
	}
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && gelf_getehdr(elf, &eh) && elf_getphdrnum(elf, &n) == 0) {
		*bias = 0;
		rc = eh.e_type == ET_EXEC ? 0 : -ENOENT;
		for (size_t i = 0; i < n && rc; i++) {
			GElf_Phdr ph;
			uint64_t seg_off;

			if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
				continue;
			seg_off = ph.p_offset & ~(uint64_t)0xfff;
			if (off >= seg_off && off < ph.p_offset + ph.p_filesz) {
				*bias = lo - off - (ph.p_vaddr - ph.p_offset);
				rc = 0;
			}
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return rc;
}

int sym_new_from_maps(const char *maps_text, struct symbolizer **out)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	FILE *fp;
	int rc, reported = 0;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	unwind_block_debuginfod(true);
	elf_version(EV_CURRENT);
	s->dwfl = dwfl_begin(&offline_callbacks);
	fp = fmemopen((void *)maps_text, strlen(maps_text), "r");
	if (!s->dwfl || !fp) {
		rc = -ENOMEM;
		if (fp)
			fclose(fp);
		goto err;
	}
	rc = parse_maps(s, fp);
	fclose(fp);
	if (rc)
		goto err;
	dwfl_report_begin(s->dwfl);
	for (size_t i = 0; i < s->nmaps; i++) {
		const struct sym_map *m = &s->maps[i];
		uint64_t bias = 0;
		bool seen = false;

		for (size_t j = 0; j < i; j++)
			seen |= !strcmp(s->maps[j].path, m->path);
		if (seen || m->path[0] != '/' || object_bias(m->path, m->start, m->offset, &bias))
			continue;
		if (dwfl_report_elf(s->dwfl, m->path, m->path, -1, bias, false))
			reported++;
	}
	dwfl_report_end(s->dwfl, NULL, NULL);
	rc = fill_build_ids(s);
	if (rc)
		goto err;
	if (!reported) {
		rc = -ENOENT;
		goto err;
	}
	*out = s;
	return 0;
err:
	sym_free(s);
	return rc;
}

void sym_free(struct symbolizer *s)
{
	if (!s)
		return;
	unwind_block_debuginfod(false);
	for (size_t i = 0; i < s->npm; i++)
		free(s->pm[i].name);
	free(s->pm);
	for (size_t i = 0; i < s->nmaps; i++) {
		free((char *)s->maps[i].path);
		free((char *)s->maps[i].build_id);
	}
	free(s->maps);
	if (s->units_made) {
		uint64_t k;
		void *v;

		for (size_t i = 0; u64map_next(&s->units, &i, &k, &v);) {
			cu_scopes_free(&((struct unit *)v)->sc);
			free(v);
		}
		u64map_fini(&s->units);
	}
	if (s->dwfl)
		dwfl_end(s->dwfl);
	free(s);
}

size_t sym_nmaps(const struct symbolizer *s)
{
	return s->nmaps;
}

const struct sym_map *sym_map_at(const struct symbolizer *s, size_t i)
{
	return i < s->nmaps ? &s->maps[i] : NULL;
}

const struct sym_map *sym_map_for(const struct symbolizer *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nmaps;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (addr < s->maps[mid].start)
			hi = mid;
		else if (addr >= s->maps[mid].limit)
			lo = mid + 1;
		else
			return &s->maps[mid];
	}
	return NULL;
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));

	if (!n)
		n = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
	return n;
}

static int die_decl_line(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	Dwarf_Word w;

	if (dwarf_formudata(dwarf_attr_integrate(die, DW_AT_decl_line, &attr), &w) == 0)
		return (int)w;
	return 0;
}

/* The call site of an inlined subroutine: file and line in its caller. */
static void call_site(Dwarf_Die *cudie, Dwarf_Die *die, const char **file, int *line)
{
	Dwarf_Attribute attr;
	Dwarf_Word w;
	Dwarf_Files *files;
	size_t nfiles;

	*line = 0;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &w) == 0)
		*line = (int)w;
	if (dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &w) == 0 &&
	    dwarf_getsrcfiles(cudie, &files, &nfiles) == 0 && w < nfiles)
		*file = dwarf_filesrc(files, w, NULL, NULL);
	else
		*file = NULL;
}

#define SCOPES_MAX 64	/* inlined calls in one chain, as far as the index follows */

/* cudie's scope index, built on first use; NULL when it cannot be (then walk the tree). */
static const struct cu_scopes *unit_scopes(struct symbolizer *s, Dwarf_Die *cudie)
{
	Dwarf *dbg = dwarf_cu_getdwarf(cudie->cu);
	Dwarf_Off off = dwarf_dieoffset(cudie);
	uint64_t key = (off + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)dbg;
	struct unit *u;

	if (!dbg || !key || s->no_index)
		return NULL;
	if (!s->units_made) {
		if (u64map_init(&s->units, 64))
			return NULL;
		s->units_made = true;
	}
	u = u64map_get(&s->units, key);
	if (u)	/* a hash collision of two units: the slow path for the second */
		return u->dbg == dbg && u->off == off && u->sc.usable ? &u->sc : NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	u->dbg = dbg;
	u->off = off;
	if (cu_scopes_build(cudie, &u->sc) || u64map_put(&s->units, key, u)) {
		cu_scopes_free(&u->sc);
		free(u);
		return NULL;
	}
	return u->sc.usable ? &u->sc : NULL;
}

/* The scopes at addr from the unit's index, innermost first: how many, -1 without one. */
static int indexed_scopes(struct symbolizer *s, Dwarf_Die *cudie, Dwarf_Addr addr,
			  Dwarf_Die **out)
{
	const struct cu_scopes *sc = unit_scopes(s, cudie);
	uint32_t chain[SCOPES_MAX];
	int n;

	if (!sc)
		return -1;
	n = cu_scopes_find(sc, addr, chain, SCOPES_MAX);
	if (n <= 0)
		return -1;	/* no range holds it: let libdw look (it may know better) */
	*out = malloc((size_t)n * sizeof(**out));
	if (!*out)
		return -1;
	for (int i = 0; i < n; i++)
		(*out)[i] = sc->ent[chain[i]].die;
	return n;
}

static int cmp_pm(const void *a, const void *b)
{
	const struct perfmap_ent *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* /tmp/perf-PID.map: "START SIZE NAME" per line, hex, as perf reads it. */
static void perfmap_load(struct symbolizer *s)
{
	char path[96], *line = NULL;
	size_t len = 0, cap = 0, seq = 0;
	FILE *f;

	s->pm_loaded = true;
	if (!s->pid)
		return;
	/* another process's map is in its /tmp, under its pid in its own namespace */
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)s->pid);
	if (s->pid != getpid())
		snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", (int)s->pid,
			 (int)sym_ns_pid(s->pid));
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &len, f) > 0) {
		uint64_t start, size;
		int at = 0;
		char *name;

		seq++;
		if (sscanf(line, "%" SCNx64 " %" SCNx64 " %n", &start, &size, &at) != 2 || !at ||
		    !size || start + size < start)
			continue;
		line[strcspn(line, "\n")] = 0;
		if (s->npm == cap) {
			size_t ncap = cap ? 2 * cap : 256;
			struct perfmap_ent *np = realloc(s->pm, ncap * sizeof(*np));

			if (!np)
				break;
			s->pm = np;
			cap = ncap;
		}
		name = strdup(line + at);
		if (!name)
			break;
		s->pm[s->npm++] = (struct perfmap_ent){ start, start + size, seq, name };
	}
	free(line);
	fclose(f);
	if (s->npm > 1)
		qsort(s->pm, s->npm, sizeof(*s->pm), cmp_pm);
}

/* The JIT symbol at addr: the latest line whose range holds it, among the nearest. */
static const char *perfmap_find(struct symbolizer *s, uint64_t addr)
{
	size_t lo = 0, hi, best = SIZE_MAX;

	if (!s->pm_loaded)
		perfmap_load(s);
	hi = s->npm;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->pm[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo, k = 0; i-- > 0 && k < 64; k++)
		if (addr < s->pm[i].end && (best == SIZE_MAX || s->pm[i].seq > s->pm[best].seq))
			best = i;
	return best == SIZE_MAX ? NULL : s->pm[best].name;
}

void sym_set_indexed(struct symbolizer *s, bool on)
{
	s->no_index = !on;
}

void sym_index_stats(const struct symbolizer *s, uint64_t *indexed, uint64_t *walked)
{
	*indexed = s->n_indexed;
	*walked = s->n_walked;
}

int sym_lookup(struct symbolizer *s, uint64_t addr, struct sym_frame *frames, int max)
{
	Dwfl_Module *mod;
	Dwarf_Die *cudie, *scopes = NULL;
	Dwarf_Addr bias = 0;
	Dwfl_Line *dl;
	const char *file = NULL, *symname;
	int line = 0, n = 0, nscopes;
	bool indexed = false;
	GElf_Off off;
	GElf_Sym sym;

	sym_find_elf_target(s->pid);	/* 0 offline: paths as they are */
	mod = dwfl_addrmodule(s->dwfl, addr);
	if (max <= 0)
		return 0;
	if (!mod) {	/* no file maps it: generated code, named by its JIT if at all */
		const char *jit = perfmap_find(s, addr);

		if (!jit)
			return 0;
		frames[0] = (struct sym_frame){ jit, NULL, 0, 0 };
		return 1;
	}
	symname = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	dl = dwfl_module_getsrc(mod, addr);
	if (dl)
		file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);
	cudie = dwfl_module_addrdie(mod, addr, &bias);
	nscopes = cudie ? indexed_scopes(s, cudie, addr - bias, &scopes) : 0;
	if (nscopes < 0) {
		nscopes = dwarf_getscopes(cudie, addr - bias, &scopes);
		s->n_walked++;
	} else {
		indexed = true;
		s->n_indexed += cudie != NULL;
	}
	if (nscopes > 0 && !indexed) {
		/*
		 * Past an inlined instance, dwarf_getscopes() goes on into the scopes of its
		 * abstract definition, not into its caller's: the function it was inlined into
		 * went missing from the stack. The scopes that contain the innermost DIE in the
		 * concrete tree are the callers (as eu-addr2line -i finds them).
		 */
		Dwarf_Die inner = scopes[0], *chain = NULL;
		int nchain = dwarf_getscopes_die(&inner, &chain);

		if (nchain > 0) {
			free(scopes);
			scopes = chain;
			nscopes = nchain;
		}
	}
	for (int i = 0; i < nscopes && n < max; i++) {
		int tag = dwarf_tag(&scopes[i]);
		const char *name;

		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
			continue;
		name = die_name(&scopes[i]);
		frames[n++] = (struct sym_frame){ name ? name : symname, file, line,
						  die_decl_line(&scopes[i]) };
		if (tag == DW_TAG_subprogram)
			break;
		call_site(cudie, &scopes[i], &file, &line);
	}
	free(scopes);
	if (n == 0 && symname)
		frames[n++] = (struct sym_frame){ symname, file, line, 0 };
	/* a frame whose name stayed unknown (broken DWARF) takes the ELF symbol */
	for (int i = 0; i < n; i++)
		if (!frames[i].name)
			frames[i].name = symname ? symname : "??";
	return n;
}
