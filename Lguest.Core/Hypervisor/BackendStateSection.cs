namespace Lguest.Hypervisor;

/// <summary>One named part of a <see cref="BackendState"/>: its bytes, in a layout only the backend that made them reads.</summary>
/// <param name="Name">The section's name within its state ("regs", "lapic"): ASCII letters, digits, '-' and '_'.</param>
/// <param name="Data">The bytes, which no one above the seam interprets.</param>
public sealed record BackendStateSection(string Name, ReadOnlyMemory<byte> Data);
