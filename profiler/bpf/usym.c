/* usym — SYMBOL / LIB:SYMBOL to file and offset for uprobes. See usym.h. */
#include "profiler/bpf/usym.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int copy_str(char *dst, size_t cap, const char *src, size_t n)
{
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* Does file name `base` match library `lib`: equal, or lib followed by '.' or '-'. */
static int lib_matches(const char *base, const char *lib)
{
	size_t n = strlen(lib);

	return strncmp(base, lib, n) == 0 && (base[n] == '\0' || base[n] == '.' || base[n] == '-');
}

static int lib_from_maps(pid_t pid, const char *lib, char *path, size_t cap)
{
	char fn[64], line[PATH_MAX + 128];
	int rc = -ENOENT;
	FILE *fp;

	snprintf(fn, sizeof(fn), "/proc/%d/maps", (int)pid);
	fp = fopen(fn, "re");
	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		char *p = strchr(line, '/');
		char *nl, *base;

		if (!p)
			continue;
		nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		base = strrchr(p, '/') + 1;
		if (lib_matches(base, lib)) {
			/* another process's file as it sees it: a container's mount namespace
			 * has its own files at these paths */
			if (pid != getpid())
				rc = snprintf(path, cap, "/proc/%d/root%s", (int)pid, p) < (int)cap ?
					     0 : -ENAMETOOLONG;
			else
				rc = copy_str(path, cap, p, strlen(p));
			break;
		}
	}
	fclose(fp);
	return rc;
}

static int lib_in_dir(const char *dir, const char *lib, char *path, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = -ENOENT;

	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, "lib", 3) && strncmp(e->d_name, lib, strlen(lib)))
			continue;
		if (lib_matches(e->d_name, lib) && strstr(e->d_name, ".so")) {
			if (snprintf(path, cap, "%s/%s", dir, e->d_name) < (int)cap)
				rc = 0;
			break;
		}
	}
	closedir(d);
	return rc;
}

static int lib_from_dirs(const char *lib, char *path, size_t cap)
{
	static const char *const dirs[] = {
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
		"/lib", "/usr/lib", "/usr/local/lib",
	};
	const char *llp = getenv("LD_LIBRARY_PATH");

	if (llp && *llp) {
		char *copy = strdup(llp), *save = NULL;

		if (!copy)
			return -ENOMEM;
		for (char *dir = strtok_r(copy, ":", &save); dir;
		     dir = strtok_r(NULL, ":", &save)) {
			if (lib_in_dir(dir, lib, path, cap) == 0) {
				free(copy);
				return 0;
			}
		}
		free(copy);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (lib_in_dir(dirs[i], lib, path, cap) == 0)
			return 0;
	return -ENOENT;
}

/* Virtual address -> file offset through the PT_LOAD segment that holds it. */
static int vaddr_to_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return -ENOEXEC;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* The .gnu.version data, parallel to .dynsym, or NULL. */
static Elf_Data *versym_data(Elf *elf)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_GNU_versym)
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/* A non-default version (name@V, not name@@V): an old ABI kept for old binaries, which the
 * programs linked today do not call (glibc's memcpy@GLIBC_2.2.5 beside memcpy@@GLIBC_2.14). */
static int is_hidden_version(Elf_Data *versym, size_t i)
{
	GElf_Versym v;

	return versym && gelf_getversym(versym, (int)i, &v) && (v & 0x8000);
}

/* Looks `name` up in the symbol table of type `type` (SHT_SYMTAB / SHT_DYNSYM). */
static int find_in_table(Elf *elf, Elf32_Word type, const char *name, GElf_Sym *out)
{
	Elf_Data *versym = type == SHT_DYNSYM ? versym_data(elf) : NULL;
	Elf_Scn *scn = NULL;
	int rc = -ENOENT;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *s;
			int t;

			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
			    !sym.st_value || is_hidden_version(versym, i))
				continue;
			t = GELF_ST_TYPE(sym.st_info);
			if (t != STT_FUNC && t != STT_GNU_IFUNC)
				continue;
			s = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!s || strcmp(s, name))
				continue;
			*out = sym;
			if (t == STT_GNU_IFUNC)
				rc = -ENOTSUP;	/* look on for a plain function */
			else
				return 0;
		}
	}
	return rc;
}

static int resolve_in_file(const char *path, const char *name, struct usym *out)
{
	GElf_Sym sym;
	Elf *elf = NULL;
	int fd, rc;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -ENOEXEC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		rc = -ENOEXEC;
		goto out;
	}
	rc = find_in_table(elf, SHT_SYMTAB, name, &sym);
	if (rc == -ENOENT)
		rc = find_in_table(elf, SHT_DYNSYM, name, &sym);
	if (rc)
		goto out;
	rc = vaddr_to_offset(elf, sym.st_value, &out->offset);
	out->size = sym.st_size;
out:
	elf_end(elf);
	close(fd);
	return rc;
}

int usym_resolve(pid_t pid, const char *exe, const char *spec, struct usym *out)
{
	const char *colon = strrchr(spec, ':');
	const char *name = colon ? colon + 1 : spec;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!*name || copy_str(out->name, sizeof(out->name), name, strlen(name)))
		return -EINVAL;
	if (!colon) {
		if (exe)
			rc = copy_str(out->path, sizeof(out->path), exe, strlen(exe));
		else if (pid > 0)
			rc = snprintf(out->path, sizeof(out->path), "/proc/%d/exe", (int)pid) < 0;
		else
			rc = -EINVAL;
	} else {
		char lib[PATH_MAX];

		if (colon == spec || copy_str(lib, sizeof(lib), spec, (size_t)(colon - spec)))
			return -EINVAL;
		if (strchr(lib, '/'))
			rc = copy_str(out->path, sizeof(out->path), lib, strlen(lib));
		else if (pid > 0)
			rc = lib_from_maps(pid, lib, out->path, sizeof(out->path));
		else
			rc = lib_from_dirs(lib, out->path, sizeof(out->path));
	}
	if (rc)
		return rc < 0 ? rc : -EINVAL;
	return resolve_in_file(out->path, out->name, out);
}
