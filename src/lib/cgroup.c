/* cgroup v2 helpers (cgroup.h). */
#include "lib/cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mountinfo escapes space, tab, newline and backslash as \ooo (proc(5)) */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)(((r[1] - '0') << 6) | ((r[2] - '0') << 3) | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = 0;
}

int wf_cgroup2_root(char *buf, size_t size)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) != -1) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER */
		char *sep = strstr(line, " - "), *save = NULL, *mp = NULL, *fstype;

		if (!sep)
			continue;
		fstype = strtok_r(sep + 3, " ", &save);
		if (!fstype || strcmp(fstype, "cgroup2"))
			continue;
		*sep = 0;
		save = NULL;
		for (int i = 0, t = 0; i < 5; i++)
			if (!(mp = strtok_r(t++ ? NULL : line, " ", &save)))
				break;
		if (!mp)
			continue;
		unescape(mp);
		if (strlen(mp) >= size) {
			r = -ENAMETOOLONG;
			break;
		}
		memcpy(buf, mp, strlen(mp) + 1);
		r = 0;
		break;
	}
	free(line);
	fclose(f);
	return r;
}
