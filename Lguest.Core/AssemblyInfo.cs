// Lguest.Core exposes unsigned guest addresses and sizes throughout; CLS compliance would hide them.
[assembly: System.CLSCompliant(false)]
