using Lguest.DevLguest;
using Lguest.Kvm;
using Lguest.Machine;
using Microsoft.Extensions.DependencyInjection;

namespace Lguest.Cli;

/// <summary>The backend <c>--backend</c> chose: how to register it, and the machine it runs.</summary>
/// <param name="Profile">The machine the backend runs.</param>
/// <param name="Register">Adds the backend (and its profile) to the container.</param>
internal sealed record BackendChoice(MachineProfile Profile, Action<IServiceCollection> Register)
{
    /// <summary>
    /// <c>kvm</c>: /dev/kvm (opened when the launcher is built). <c>lguest</c>: /dev/lguest, which must open now.
    /// <c>auto</c>: /dev/lguest when it opens, else KVM. False with one line when the asked-for backend is missing.
    /// </summary>
    public static bool TryChoose(string backend, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BackendChoice? choice, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? error)
    {
        choice = null;
        error = null;
        if (backend == "kvm")
        {
            choice = Kvm();
            return true;
        }
        if (LguestHypervisor.TryOpen(out LguestHypervisor? lguest, out string? whyNot))
        {
            choice = new BackendChoice(MachineProfile.Lguest, services => services.AddDevLguest(lguest));
            return true;
        }
        if (backend == "lguest")
        {
            error = whyNot;
            return false;
        }
        choice = Kvm();
        return true;
    }

    private static BackendChoice Kvm() => new(MachineProfile.Pc, services => services.AddKvm());
}
