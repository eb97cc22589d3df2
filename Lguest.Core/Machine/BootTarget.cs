using Lguest.Boot;
using Lguest.Memory;

namespace Lguest.Machine;

/// <summary>The machine a boot image is loaded for, as the <see cref="MachineProfile"/> built it.</summary>
/// <param name="Platform">The boot platform: where boot structures go and how the kernel is entered.</param>
/// <param name="AcpiRsdp">The ACPI RSDP the platform's firmware tables start at, or null when it has none.</param>
public sealed record BootTarget(BootPlatform Platform, GuestAddress? AcpiRsdp);
