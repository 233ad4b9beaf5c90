// The commands of the README's ```sh readme-test blocks, in order (blank lines and # comments left out).
export function readmeCommands(markdown: string): string[] {
  const out: string[] = [];
  const re = /^```sh readme-test\n([\s\S]*?)^```$/gm;
  for (let m = re.exec(markdown); m; m = re.exec(markdown)) {
    for (const line of m[1]!.split('\n')) {
      const t = line.trim();
      if (t !== '' && !t.startsWith('#')) out.push(t);
    }
  }
  return out;
}
