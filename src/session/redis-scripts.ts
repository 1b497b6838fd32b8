import { script } from '../redis/scripts.js';

export { runScript, type LuaScript } from '../redis/scripts.js';

/**
 * Every session write is one of these scripts, so a write never lands on a tombstone and an
 * update never overwrites a newer version. KEYS[1] = view, KEYS[2] = tombstone, KEYS[3] = sealed
 * tokens: all carry the hash tag {handle}, so each script stays on one Cluster slot. View header:
 * see redis-codec.ts. Times and TTLs come from the gateway's clock as decimal strings; Lua never
 * formats a float (string.format('%d') on integral values only).
 */
/** ARGV: view, sealed tokens, pttl → 'OK' | 'TOMBSTONED' | 'EXISTS' */
export const CREATE = script(
  'create',
  `if redis.call('EXISTS', KEYS[2]) == 1 then return 'TOMBSTONED' end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'EXISTS' end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
return 'OK'`,
);

/**
 * ARGV: expected version, new version, lastSeenAt, expiresAt, body, now, idle timeout, sealed tokens.
 * lastSeenAt never moves back (a touch may have landed since the read).
 * → {'OK', lastSeenAt} | 'TOMBSTONED' | 'GONE' | 'CONFLICT' | 'ENDED'
 */
export const UPDATE = script(
  'update',
  `if redis.call('EXISTS', KEYS[2]) == 1 then return 'TOMBSTONED' end
local cur = redis.call('GET', KEYS[1])
if not cur then return 'GONE' end
local ver, seen = string.match(cur, '^1|(%d+)|(%d+)|')
if ver ~= ARGV[1] then return 'CONFLICT' end
local newSeen = ARGV[3]
if tonumber(seen) > tonumber(newSeen) then newSeen = seen end
local ttl = math.min(tonumber(ARGV[4]), tonumber(newSeen) + tonumber(ARGV[7])) - tonumber(ARGV[6])
if ttl < 1 then return 'ENDED' end
local px = string.format('%d', ttl)
redis.call('SET', KEYS[3], ARGV[8], 'PX', px)
redis.call('SET', KEYS[1], '1|' .. ARGV[2] .. '|' .. newSeen .. '|' .. ARGV[4] .. '|' .. ARGV[5], 'PX', px)
return {'OK', newSeen}`,
);

/**
 * ARGV: lastSeenAt, now, idle timeout. Moves lastSeenAt forward and extends both TTLs; never
 * revives a session whose idle or absolute end has passed. The version is left alone, so a
 * touch does not make a concurrent update conflict. → 1 written, 0 not
 */
export const TOUCH = script(
  'touch',
  `if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
local ver, seen, exp, pos = string.match(cur, '^1|(%d+)|(%d+)|(%d+)|()')
if not ver then return 0 end
local now, idle, new = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[1])
if new <= tonumber(seen) then return 0 end
if math.min(tonumber(exp), tonumber(seen) + idle) <= now then return 0 end
local ttl = math.min(tonumber(exp), new + idle) - now
if ttl < 1 then return 0 end
local px = string.format('%d', ttl)
redis.call('SET', KEYS[1], '1|' .. ver .. '|' .. ARGV[1] .. '|' .. exp .. '|' .. string.sub(cur, pos), 'PX', px)
redis.call('PEXPIRE', KEYS[3], px)
return 1`,
);

/**
 * ARGV: handle, reason, at, tombstone ttl, created-before ('' = any), match ('' | 'sub' | 'sid'),
 * match value, pre-empt ('1' | ''). Replaces the session with a tombstone naming the user and IdP
 * sid read from the view itself. created-before leaves a later session alone (a logout queued
 * during an outage must not end a newer login); match makes index-driven deletions exact (an
 * index may still list a session whose sid changed). pre-empt: an index member with no record
 * yet is a create in flight (the index is written first), so a tombstone is left for its create
 * script to find (an ended IdP sid, see redis-removals.ts). → tombstone JSON, or false when no
 * session qualifies.
 */
export const REMOVE = script(
  'remove',
  `local cur = redis.call('GET', KEYS[1])
if not cur then
  if ARGV[8] == '1' and redis.call('EXISTS', KEYS[2]) == 0 then
    local t = { handle = ARGV[1], sub = '', reason = ARGV[2], at = ARGV[3], idpSid = ARGV[7] }
    redis.call('SET', KEYS[2], cjson.encode(t), 'PX', ARGV[4])
  end
  return false
end
local sub, sid, created = '', nil, nil
local pos = string.match(cur, '^1|%d+|%d+|%d+|()')
if pos then
  local ok, body = pcall(cjson.decode, string.sub(cur, pos))
  if ok and type(body) == 'table' then
    if type(body.user) == 'table' and type(body.user.sub) == 'string' then sub = body.user.sub end
    if type(body.idpSid) == 'string' then sid = body.idpSid end
    if type(body.createdAt) == 'number' then created = body.createdAt end
  end
end
if ARGV[5] ~= '' and created and created > tonumber(ARGV[5]) then return false end
if ARGV[6] == 'sub' and sub ~= ARGV[7] then return false end
if ARGV[6] == 'sid' and sid ~= ARGV[7] then return false end
local t = { handle = ARGV[1], sub = sub, reason = ARGV[2], at = ARGV[3] }
if sid then t.idpSid = sid end
local json = cjson.encode(t)
redis.call('SET', KEYS[2], json, 'PX', ARGV[4])
redis.call('DEL', KEYS[1], KEYS[3])
return json`,
);

/**
 * ARGV: tombstone JSON, ttl. A logout taken while Redis was away: the tombstone is written even
 * if the session is gone (or never reached this Redis), so nothing written later can revive it.
 */
export const FORCE_TOMBSTONE = script(
  'force-tombstone',
  `if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2]) end
redis.call('DEL', KEYS[1], KEYS[3])
return 1`,
);

/** KEYS[1] = index set. ARGV: handle, pttl. The set lives at least as long as its longest member. */
export const INDEX_ADD = script(
  'index-add',
  `redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1`,
);

/** KEYS[1] = lease. ARGV: owner, ttl. Re-acquiring one's own lease extends it. */
export const LEASE_ACQUIRE = script(
  'lease-acquire',
  `local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if cur then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`,
);

/** KEYS[1] = lease. ARGV: owner. Deletes only one's own lease. */
export const LEASE_RELEASE = script(
  'lease-release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);
