// The twin of group_id in poemnet/common/prosody.py. Python also converts a traditional name to
// simplified with OpenCC first; the page has no OpenCC, so it takes the simplified names only.
export function groupId(query, names) {  // a 平 group from '东', '一东' or '上平声一东'; null if none
  const wanted = query.trim();
  for (let i = 0; i < names.length; i++) {
    const short = names[i].replace(/^[上下]平声/, '');
    if ([names[i], short, short.at(-1)].includes(wanted)) return i;
  }
  return null;
}
