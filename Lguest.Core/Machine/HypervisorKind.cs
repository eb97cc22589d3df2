namespace Lguest.Machine;

/// <summary>Which backend <see cref="HypervisorBackend.Choose"/> (and <c>services.AddHypervisor(kind)</c>) picks.</summary>
public enum HypervisorKind
{
    /// <summary>/dev/lguest when it opens (the lguest launcher's own backend), else KVM: what <c>lguest --backend=auto</c> does.</summary>
    Auto,

    /// <summary>KVM (/dev/kvm), running the PC machine.</summary>
    Kvm,

    /// <summary>/dev/lguest, running the lguest machine.</summary>
    Lguest,
}
