// The commands of the README's ```sh readme-test blocks, in order (blank lines and # comments
// left out); blocks marked "offline" need no lab.
export interface ReadmeCommand { cmd: string; offline: boolean }

export function readmeCommands(markdown: string): ReadmeCommand[] {
  const out: ReadmeCommand[] = [];
  const re = /^```sh readme-test( offline)?\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    for (const line of m[2]!.split('\n')) {
      const t = line.trim();
      if (t !== '' && !t.startsWith('#')) out.push({ cmd: t, offline: m[1] !== undefined });
    }
  }
  return out;
}
