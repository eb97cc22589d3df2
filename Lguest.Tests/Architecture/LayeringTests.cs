using System.Reflection;
using System.Reflection.Emit;
using System.Runtime.CompilerServices;
using Lguest.Machine;

namespace Lguest.Tests.Architecture;

/// <summary>
/// The layering of Lguest.Core, checked on the compiled IL: each namespace uses only namespaces of a lower layer,
/// so there is no cycle (Machine composes the backends; the backends know nothing of Machine). And the shipping
/// assemblies see only Core's public API: Core grants its internals to none of them.
/// </summary>
public class LayeringTests
{
    /// <summary>Core's namespaces by layer; a namespace may use those of lower layers only (never a peer).</summary>
    private static readonly Dictionary<string, int> Layers = new()
    {
        ["Lguest"] = 0, // LguestException
        ["Lguest.Interop"] = 1,
        ["Lguest.Snapshot"] = 5, // the container that gathers memory and the backends' state; its primitives: TypeLayers
        ["Lguest.Memory"] = 2,
        ["Lguest.Hypervisor"] = 3,
        ["Lguest.Boot"] = 4,
        ["Lguest.Pci"] = 4,
        ["Lguest.Platform"] = 4,
        ["Lguest.Terminal"] = 4,
        ["Lguest.Virtio"] = 5,
        ["Lguest.Kvm"] = 5,
        ["Lguest.DevLguest"] = 5,
        ["Lguest.Machine"] = 6,
        ["Lguest.Seccomp"] = 7, // the filter a launcher installs once everything is open: knows KVM's requests, uses Machine's confinement
    };

    /// <summary>
    /// Types whose layer is not their namespace's. Lguest.Snapshot holds both the container (a directory of memory and
    /// state, above memory and the backends) and the format's primitives that memory, the backends and the platform
    /// devices use to refuse a snapshot or write their own state: those sit at the bottom.
    /// </summary>
    private static readonly Dictionary<string, int> TypeLayers = new()
    {
        ["Lguest.Snapshot.SnapshotException"] = 1,
        ["Lguest.Snapshot.SnapshotRefusal"] = 1,
        ["Lguest.Snapshot.SnapshotFormat"] = 1,
        ["Lguest.Snapshot.SnapshotSection"] = 1,
        ["Lguest.Snapshot.SnapshotStateFile"] = 1,
        ["Lguest.Snapshot.SnapshotStateReader"] = 1,
        ["Lguest.Snapshot.SnapshotStateWriter"] = 1,
    };

    private static readonly Assembly Core = typeof(Launcher).Assembly;

    private static readonly Dictionary<short, OpCode> OneByte = [];
    private static readonly Dictionary<short, OpCode> TwoByte = [];

    static LayeringTests()
    {
        foreach (FieldInfo field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var code = (OpCode)field.GetValue(null)!;
            if (code.Size == 1)
                OneByte[code.Value] = code;
            else
                TwoByte[(short)(code.Value & 0xff)] = code;
        }
    }

    [Test]
    public void Every_namespace_of_Lguest_Core_has_a_layer()
    {
        string[] namespaces = Core.GetTypes().Select(NamespaceOf).Where(n => n is not null).Distinct().ToArray()!;
        Assert.That(namespaces.Where(n => !Layers.ContainsKey(n!)), Is.Empty, "add the new namespace to Layers, below what uses it");
    }

    [Test]
    public void Each_namespace_uses_only_lower_layers()
    {
        var violations = new SortedSet<string>();
        foreach (Type type in Core.GetTypes())
        {
            string? from = NamespaceOf(type);
            if (from is null || LayerOf(type) is not int layer)
                continue;
            foreach (Type used in UsedTypes(type))
            {
                if (used.Assembly != Core || NamespaceOf(used) is not { } to || Outermost(used) == Outermost(type))
                    continue;
                if (to == from && !TypeLayers.ContainsKey(Outermost(type).FullName!) && !TypeLayers.ContainsKey(Outermost(used).FullName!))
                    continue;
                if (LayerOf(used) is int usedLayer && usedLayer >= layer && !(to == from && usedLayer == layer))
                    violations.Add($"{from} -> {to} ({type.FullName} uses {used.FullName})");
            }
        }
        Assert.That(violations, Is.Empty);
    }

    [Test]
    public void Lguest_Core_grants_its_internals_to_no_shipping_assembly()
    {
        string[] granted = Core.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName).ToArray();
        Assert.That(granted, Is.SubsetOf(new[] { "Lguest.Tests", "Lguest.Benchmarks", "Lguest.Fuzz", "DynamicProxyGenAssembly2" }));
        Assert.That(typeof(Lguest.Devices.VirtioRngDevice).Assembly.GetCustomAttributes<InternalsVisibleToAttribute>().Select(a => a.AssemblyName),
            Does.Not.Contain("Lguest.Cli"));
    }

    [Test]
    public void The_checker_sees_a_use_made_only_inside_a_method_body()
    {
        // Machine -> DevLguest appears only in HypervisorBackend.Choose's body (a call to LguestHypervisor.TryOpen), and
        // Machine -> Kvm only in a lambda's (a call to KvmHypervisor.Open, in a compiler-generated nested class).
        Assert.That(UsedTypes(typeof(HypervisorBackend)).Select(t => t.FullName), Does.Contain("Lguest.DevLguest.LguestHypervisor"));
        IEnumerable<Type> lambdas = typeof(HypervisorBackend).GetNestedTypes(BindingFlags.NonPublic).SelectMany(UsedTypes);
        Assert.That(lambdas.Select(t => t.FullName), Does.Contain("Lguest.Kvm.KvmHypervisor"));
    }

    // Nested and compiler-generated types belong to their container.
    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer)
            type = outer;
        return type;
    }

    private static string? NamespaceOf(Type type) => Outermost(type).Namespace;

    private static int? LayerOf(Type type) =>
        TypeLayers.TryGetValue(Outermost(type).FullName!, out int layer) ? layer
        : NamespaceOf(type) is { } ns && Layers.TryGetValue(ns, out layer) ? layer
        : null;

    private static HashSet<Type> UsedTypes(Type type)
    {
        var found = new HashSet<Type>();
        void Add(Type? t)
        {
            if (t is null)
                return;
            if (t.HasElementType)
            {
                Add(t.GetElementType());
                return;
            }
            if (t.IsGenericParameter || !found.Add(t))
                return;
            if (t.IsConstructedGenericType)
            {
                Add(t.GetGenericTypeDefinition());
                foreach (Type argument in t.GetGenericArguments())
                    Add(argument);
            }
        }

        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        Add(type.BaseType);
        foreach (Type i in type.GetInterfaces())
            Add(i);
        foreach (FieldInfo field in type.GetFields(all))
            Add(field.FieldType);
        foreach (MethodBase method in type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all)))
        {
            if (method is MethodInfo info)
                Add(info.ReturnType);
            foreach (ParameterInfo parameter in method.GetParameters())
                Add(parameter.ParameterType);
            MethodBody? body = method.GetMethodBody();
            if (body is null)
                continue;
            foreach (LocalVariableInfo local in body.LocalVariables)
                Add(local.LocalType);
            foreach (MemberInfo member in Operands(method, body.GetILAsByteArray() ?? []))
            {
                switch (member)
                {
                    case Type t:
                        Add(t);
                        break;
                    case FieldInfo f:
                        Add(f.DeclaringType);
                        Add(f.FieldType);
                        break;
                    case MethodBase m:
                        Add(m.DeclaringType);
                        if (m is MethodInfo mi)
                            Add(mi.ReturnType);
                        break;
                }
            }
        }
        foreach (Type nested in type.GetNestedTypes(all))
            Add(nested);
        return found;
    }

    // The members the IL names by token (calls, field accesses, newobj, casts, ldtoken), resolved in the method's generic context.
    private static List<MemberInfo> Operands(MethodBase method, byte[] il)
    {
        Type[]? typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        Type[]? methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        var members = new List<MemberInfo>();
        for (int at = 0; at < il.Length;)
        {
            OpCode code = il[at] == 0xFE ? TwoByte[il[at + 1]] : OneByte[il[at]];
            at += code.Size;
            int size = code.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
                _ => 4,
            };
            if (code.OperandType is OperandType.InlineField or OperandType.InlineMethod or OperandType.InlineType or OperandType.InlineTok)
            {
                int token = BitConverter.ToInt32(il, at);
                try
                {
                    if (method.Module.ResolveMember(token, typeArguments, methodArguments) is { } member)
                        members.Add(member);
                }
                catch (ArgumentException)
                {
                    // A token in another generic context (a vararg or function-pointer signature): nothing of ours.
                }
            }
            at += size;
        }
        return members;
    }
}
