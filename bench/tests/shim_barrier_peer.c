/*
 * shim_barrier_peer.c - functions the barrier checks in shim_selftest.c
 * call from another translation unit, so the compiler there sees only the
 * declarations.  Those declare peer_const() const and peer_pure() pure,
 * which lets an optimising compiler drop or merge calls whose results are
 * unused or unchanged; each call is counted here, so the number of calls
 * shows whether a barrier kept them.  (The attributes understate what the
 * functions do: they count.  Nothing else relies on that.)
 */
int dlreg_shim_peer_calls;
int dlreg_shim_peer_seen;

int dlreg_shim_peer_const(int x);
int dlreg_shim_peer_pure(const int *p);

int dlreg_shim_peer_const(int x)
{
	dlreg_shim_peer_calls++;
	return x * 3;
}

int dlreg_shim_peer_pure(const int *p)
{
	dlreg_shim_peer_calls++;
	dlreg_shim_peer_seen = *p;
	return *p + 1;
}
