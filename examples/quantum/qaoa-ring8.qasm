// QAOA depth 1 for MaxCut on the 8-node ring, written with free parameters gamma and beta:
//   strata quantum run examples/quantum/qaoa-ring8.qasm --param gamma=0.7853981634 --param beta=0.3926990817 --observable "Z0 Z1"
// At gamma = pi/4, beta = pi/8 every edge has <Z_u Z_v> = -0.5, i.e. <C>/|E| = (1 - <ZZ>)/2 = 0.75.
OPENQASM 2.0;
include "qelib1.inc";
qreg q[8];
creg c[8];
h q;
rzz(-gamma) q[0], q[1];
rzz(-gamma) q[1], q[2];
rzz(-gamma) q[2], q[3];
rzz(-gamma) q[3], q[4];
rzz(-gamma) q[4], q[5];
rzz(-gamma) q[5], q[6];
rzz(-gamma) q[6], q[7];
rzz(-gamma) q[7], q[0];
rx(2*beta) q;
measure q -> c;
