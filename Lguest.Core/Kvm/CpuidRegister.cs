namespace Lguest.Kvm;

/// <summary>One of the four registers a CPUID leaf returns.</summary>
public enum CpuidRegister
{
    /// <summary>EAX.</summary>
    Eax,

    /// <summary>EBX.</summary>
    Ebx,

    /// <summary>ECX.</summary>
    Ecx,

    /// <summary>EDX.</summary>
    Edx,
}
