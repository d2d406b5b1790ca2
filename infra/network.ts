import { Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';
import type { Config } from '../lambda/config/schema';
import type { FunctionPlacement } from './functions';

export interface VendorNetworkProps {
  readonly config: Config;
}

/**
 * The VPC the functions run in (config `deployment.vpc`): the VPC, subnets and security groups the
 * config names, imported, never created. From the VPC the functions reach Snowflake through its NAT (a
 * stable egress IP a Snowflake network policy can pin) or PrivateLink, which the VPC's owner provides.
 *
 * With `createEndpoints`, it also makes the AWS endpoints the functions need without a NAT route to
 * them: interface endpoints for Secrets Manager and KMS (STS too for keyless connections), HTTPS only
 * from the functions' security groups, and DynamoDB's gateway endpoint on the subnets' route tables for
 * the shared cache and the revocation list.
 *
 * @example
 * ```ts
 * const network = new VendorNetwork(this, 'Network', { config });
 * network.placement.vpc.vpcId;
 * ```
 */
export class VendorNetwork extends Construct {
  readonly placement: FunctionPlacement;
  /** The endpoints' security group, when `createEndpoints` made them. */
  readonly endpointSecurityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: VendorNetworkProps) {
    super(scope, id);
    const settings = props.config.deployment.vpc;
    if (!settings) throw new Error('VendorNetwork needs deployment.vpc in the config.');
    // A route table per subnet, when the config names them one for one (CDK warns about subnets without).
    const routeTables =
      settings.routeTableIds.length === settings.subnetIds.length ? settings.routeTableIds : undefined;
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: settings.vpcId,
      availabilityZones: settings.subnetIds.map((_, i) => Stack.of(this).availabilityZones[i] ?? `az${i}`),
      privateSubnetIds: settings.subnetIds,
      ...(routeTables ? { privateSubnetRouteTableIds: routeTables } : {}),
    });
    this.placement = {
      vpc,
      vpcSubnets: {
        subnets: settings.subnetIds.map((subnetId, i) =>
          ec2.Subnet.fromSubnetAttributes(this, `Subnet${i}`, {
            subnetId,
            ...(routeTables ? { routeTableId: routeTables[i] } : {}),
          }),
        ),
      },
      securityGroups: settings.securityGroupIds.map((sg, i) =>
        ec2.SecurityGroup.fromSecurityGroupId(this, `SecurityGroup${i}`, sg, { mutable: false }),
      ),
    };
    if (!settings.createEndpoints) return;
    const group = new ec2.SecurityGroup(this, 'EndpointSecurityGroup', {
      vpc,
      description: 'Token Vendor: HTTPS from the functions to the AWS service endpoints',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup = group;
    for (const sg of settings.securityGroupIds)
      group.addIngressRule(ec2.Peer.securityGroupId(sg), ec2.Port.tcp(443), 'Token Vendor functions');
    const keyless = Object.values(props.config.connections).some((c) => c.workloadIdentity);
    const services: [string, ec2.InterfaceVpcEndpointAwsService][] = [
      ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
      ['Kms', ec2.InterfaceVpcEndpointAwsService.KMS],
      ...(keyless
        ? [['Sts', ec2.InterfaceVpcEndpointAwsService.STS] as [string, ec2.InterfaceVpcEndpointAwsService]]
        : []),
    ];
    for (const [name, service] of services) {
      new ec2.InterfaceVpcEndpoint(this, `${name}Endpoint`, {
        vpc,
        service,
        subnets: this.placement.vpcSubnets,
        securityGroups: [group],
        privateDnsEnabled: true,
        open: false,
      });
    }
    if (props.config.cache.shared || props.config.revocations.enabled || props.config.leases.enabled) {
      new ec2.CfnVPCEndpoint(this, 'DynamoDbEndpoint', {
        vpcId: vpc.vpcId,
        serviceName: `com.amazonaws.${Stack.of(this).region}.dynamodb`,
        vpcEndpointType: 'Gateway',
        routeTableIds: settings.routeTableIds,
      });
    }
  }
}
