namespace Lguest.Kvm;

/// <summary>One CPUID edit: in every sub-leaf of <paramref name="Leaf"/>, <paramref name="Register"/> becomes (value &amp; ~ClearMask) | SetMask.</summary>
/// <param name="Leaf">The CPUID function (EAX input).</param>
/// <param name="Register">The output register edited.</param>
/// <param name="SetMask">Bits forced to 1.</param>
/// <param name="ClearMask">Bits forced to 0.</param>
public readonly record struct CpuidEdit(uint Leaf, CpuidRegister Register, uint SetMask, uint ClearMask);
