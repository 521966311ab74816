// Splits a command line into argv without a shell: 'single' and "double" quotes and backslash escapes.

/**
 * POSIX-shell-like word splitting, with nothing else of a shell: no variables, globs,
 * pipes or redirections. Outside quotes a backslash escapes the next character; inside
 * "double" quotes it escapes only `"`, `\` and `$`; 'single' quotes take everything
 * literally. Returns undefined with a reason for an unterminated quote or trailing backslash.
 */
export function splitArgs(line: string): { argv: string[] } | { error: string } {
  const argv: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '\\') {
      if (i + 1 >= line.length) return { error: 'a trailing backslash escapes nothing' };
      word += line[++i];
      inWord = true;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { error: 'unterminated single quote' };
      word += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$'.includes(line[j + 1]!)) j++;
        word += line[j];
      }
      if (j >= line.length) return { error: 'unterminated double quote' };
      i = j;
      inWord = true;
    } else if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) argv.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) argv.push(word);
  return { argv };
}

/** `K=V,K2=V2` into pairs; `\,` is a literal comma inside a value. */
export function parseEnvList(text: string): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  const items: string[] = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === ',') {
      cur += ',';
      i++;
    } else if (text[i] === ',') {
      items.push(cur);
      cur = '';
    } else {
      cur += text[i];
    }
  }
  items.push(cur);
  for (const item of items) {
    if (item === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) return undefined;
    const key = item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return undefined;
    pairs.push([key, item.slice(eq + 1)]);
  }
  return pairs;
}
