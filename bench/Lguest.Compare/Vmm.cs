namespace Lguest.Compare;

/// <summary>
/// A VMM the direct cases run the probe guest on, and how to ask it for one machine: memory, the probe's
/// command line, and the disk file (the same file for every VMM that can take it).
/// </summary>
internal sealed record Vmm(string Name, string Description, Func<ProbeMachine, IReadOnlyList<string>> Command)
{
    public const string LguestAot = "lguest-aot";
    public const string LguestJit = "lguest-jit";
    public const string LguestAotUnfiltered = "lguest-aot-seccomp-off"; // the same binary with --seccomp=off: the filter's cost
    public const string QemuPc = "qemu-pc";
    public const string QemuMicrovm = "qemu-microvm";

    public const string Qemu = "qemu-system-x86_64";
    public const string Qboot = "/usr/share/qemu/qboot.rom";

    /// <summary>lguest from a program and its leading arguments (the NativeAOT binary, or dotnet Lguest.Cli.dll).</summary>
    public static Vmm Lguest(string name, string description, IReadOnlyList<string> launcher) =>
        new(name, description, machine =>
        {
            var argv = new List<string>(launcher);
            if (machine.Disk is not null)
                argv.Add("--block=" + machine.Disk);
            argv.Add(machine.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture));
            argv.Add(machine.Kernel);
            argv.AddRange(machine.KernelArguments);
            return argv;
        });

    /// <summary>
    /// QEMU's PC (i440FX) on KVM with only the devices asked for (-nodefaults): COM1 on stdio, the disk as a
    /// modern virtio-blk-pci, and qboot as firmware, its fastest start (SeaBIOS takes ~3 s on kvm_pvm).
    /// </summary>
    public static Vmm QemuPcMachine() =>
        new(QemuPc, $"`{Qemu} -M pc -accel kvm -nodefaults -bios qboot.rom`, the disk as virtio-blk-pci (modern only), COM1 on stdio", machine =>
        {
            var argv = new List<string> { Qemu, "-M", "pc", "-accel", "kvm", "-m", machine.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot" };
            if (File.Exists(Qboot))
                argv.AddRange(["-bios", Qboot]);
            if (machine.Disk is not null)
                argv.AddRange(["-drive", $"file={machine.Disk},if=none,format=raw,id=d0", "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"]);
            argv.AddRange(["-kernel", machine.Kernel, "-append", string.Join(' ', machine.KernelArguments)]);
            return argv;
        });

    /// <summary>
    /// QEMU's microvm on KVM with its own qboot firmware: no PCI, so the disk is a virtio-mmio virtio-blk
    /// (opened and set up like the others, though the probe's driver, virtio-PCI only, does not use it), and
    /// no ACPI PM block, so the probe powers off through isa-debug-exit (QEMU then exits with status 1).
    /// </summary>
    public static Vmm QemuMicrovmMachine() =>
        new(QemuMicrovm, $"`{Qemu} -M microvm -accel kvm -nodefaults` (its qboot firmware), the disk as virtio-mmio virtio-blk, COM1 on stdio, isa-debug-exit for power-off", machine =>
        {
            var argv = new List<string> { Qemu, "-M", "microvm", "-accel", "kvm", "-m", machine.MemoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-nodefaults", "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot",
                "-device", "isa-debug-exit,iobase=0x501" };
            if (machine.Disk is not null)
                argv.AddRange(["-drive", $"file={machine.Disk},if=none,format=raw,id=d0", "-device", "virtio-blk-device,drive=d0"]);
            argv.AddRange(["-kernel", machine.Kernel, "-append", string.Join(' ', machine.KernelArguments.Append("probe.poweroff=debug-exit"))]);
            return argv;
        });

    /// <summary>Whether <paramref name="status"/> is this VMM's normal end after the guest powered off.</summary>
    public bool IsCleanExit(int status) => status == 0 || (Name == QemuMicrovm && status == 1);
}

/// <summary>One guest machine: memory, kernel (the probe), its command line, and the disk file or null.</summary>
internal sealed record ProbeMachine(int MemoryMiB, string Kernel, IReadOnlyList<string> KernelArguments, string? Disk);
